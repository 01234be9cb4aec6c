package org.florence2j.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Finds added tokens ({@code <s>}, {@code <loc_N>}, task tokens, …) in raw text before BPE sees it, as HF tokenizers'
 * {@code AddedVocabulary::extract_and_normalize} does: first the non-normalized tokens over the whole text, then the
 * normalized ones over each piece left between them; each pass takes the leftmost match and, at one position, the
 * longest (Aho-Corasick {@code MatchKind::LeftmostLongest}), and honours lstrip/rstrip/single_word.
 */
final class AddedVocabulary {
    private static final Pattern WORD_CHAR = Pattern.compile("\\w", Pattern.UNICODE_CHARACTER_CLASS);

    private final Trie nonNormalized = new Trie();
    private final Trie normalized = new Trie();

    AddedVocabulary(Collection<AddedToken> tokens) {
        for (AddedToken token : tokens) {
            if (!token.content().isEmpty()) {
                (token.normalized() ? normalized : nonNormalized).add(token);
            }
        }
    }

    /** Appends the ids of {@code text}: added tokens as themselves, every piece between them through {@code bpe}. */
    void encode(String text, ByteLevelBpe bpe, IdList out) {
        split(text, 0, text.length(), nonNormalized, (from, to) -> split(text, from, to, normalized,
                (pieceFrom, pieceTo) -> bpe.encode(text, pieceFrom, pieceTo, out), out), out);
    }

    /** Receives a stretch of text that holds no added token of the current pass. */
    @FunctionalInterface
    private interface Piece {
        void accept(int from, int to);
    }

    /**
     * HF's {@code find_matches} over {@code text[from, to)}, which it treats as a whole sentence (lstrip and rstrip
     * stop at its ends): matched tokens go to {@code out}, the stretches between them to {@code piece}.
     */
    private static void split(String text, int from, int to, Trie trie, Piece piece, IdList out) {
        int pieceStart = from;
        int scan = from;
        while (scan < to) {
            int matchStart = -1;
            long match = -1;
            for (int i = scan; i < to && matchStart < 0; i++) {
                match = trie.longestAt(text, i, to);
                if (match >= 0) {
                    matchStart = i;
                }
            }
            if (matchStart < 0) {
                break;
            }
            AddedToken token = trie.token((int) (match >>> 32));
            int start = matchStart;
            int stop = (int) match;
            // Matching resumes after the raw match whatever the flags below do, like Aho-Corasick's find_iter.
            scan = stop;
            if (token.singleWord() && (endsWithWordChar(text, from, start) || startsWithWordChar(text, stop, to))) {
                continue;
            }
            if (token.lstrip()) {
                int newStart = start;
                while (newStart > from && ByteLevelBpe.isWhiteSpace(text.charAt(newStart - 1))) {
                    newStart--;
                }
                start = Math.max(newStart, pieceStart);
            }
            if (token.rstrip()) {
                while (stop < to && ByteLevelBpe.isWhiteSpace(text.charAt(stop))) {
                    stop++;
                }
            }
            if (pieceStart < start) {
                piece.accept(pieceStart, start);
            }
            out.add(token.id());
            pieceStart = stop;
        }
        if (pieceStart < to) {
            piece.accept(pieceStart, to);
        }
    }

    private static boolean endsWithWordChar(String text, int from, int end) {
        return end > from && WORD_CHAR.matcher(text).region(text.offsetByCodePoints(end, -1), end).matches();
    }

    private static boolean startsWithWordChar(String text, int start, int to) {
        return start < to && WORD_CHAR.matcher(text).region(start, text.offsetByCodePoints(start, 1)).matches();
    }

    /** A char trie over token contents; a BitSet of first chars lets most positions fail in one lookup. */
    private static final class Trie {
        private final Node root = new Node();
        private final BitSet firstChars = new BitSet(1 << 16);
        private final List<AddedToken> tokens = new ArrayList<>();

        void add(AddedToken token) {
            Node node = root;
            for (int i = 0; i < token.content().length(); i++) {
                node = node.children.computeIfAbsent(token.content().charAt(i), c -> new Node());
            }
            if (node.tokenIndex < 0) {
                node.tokenIndex = tokens.size();
                tokens.add(token);
            }
            firstChars.set(token.content().charAt(0));
        }

        AddedToken token(int index) {
            return tokens.get(index);
        }

        /** The longest token starting at {@code start} and ending by {@code to}: {@code index << 32 | end}, or -1. */
        long longestAt(String text, int start, int to) {
            if (!firstChars.get(text.charAt(start))) {
                return -1;
            }
            long best = -1;
            Node node = root;
            for (int i = start; i < to; i++) {
                node = node.children.get(text.charAt(i));
                if (node == null) {
                    break;
                }
                if (node.tokenIndex >= 0) {
                    best = ((long) node.tokenIndex << 32) | (i + 1);
                }
            }
            return best;
        }
    }

    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        int tokenIndex = -1;
    }
}
