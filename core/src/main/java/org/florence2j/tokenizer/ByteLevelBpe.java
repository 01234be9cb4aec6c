package org.florence2j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The byte-level BPE model of GPT-2/RoBERTa/BART: the ByteLevel pre-tokenizer (GPT-2 split regex, then every UTF-8
 * byte mapped to a printable character) followed by rank-ordered BPE merges, plus the inverse byte mapping used to
 * decode.
 *
 * <p>Mirrors HF tokenizers' {@code pre_tokenizers::byte_level::ByteLevel} (add_prefix_space=false, use_regex=true),
 * {@code models::bpe::BPE} (no dropout, no unk, no continuing-subword prefix) and {@code decoders::ByteLevel}.
 * Words already seen are cached (as HF does: up to {@value #CACHE_CAPACITY} words shorter than
 * {@value #CACHE_MAX_WORD_CHARS} chars), in a concurrent map so one instance serves many threads.
 */
final class ByteLevelBpe {
    static final int CACHE_CAPACITY = 10_000;
    static final int CACHE_MAX_WORD_CHARS = 256;
    /**
     * The largest token id accepted from a tokenizer file. Ids index arrays sized by the largest id, so an absurd one
     * would otherwise cost gigabytes or overflow; this is 300 times Florence-2's 51,289.
     */
    static final int MAX_TOKEN_ID = (1 << 24) - 1;

    /** GPT-2's bytes_to_unicode: byte value → the printable char that stands for it in vocab strings. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** The inverse of {@link #BYTE_TO_CHAR}: char → byte value, or -1 for a char that stands for no byte. */
    private static final short[] CHAR_TO_BYTE = new short[512];

    static {
        Arrays.fill(CHAR_TO_BYTE, (short) -1);
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = (short) b;
        }
    }

    private final Map<String, Integer> vocab;
    /** Token string of every model id; {@code null} where the vocab has a gap. */
    private final String[] idToToken;
    /** Vocab id of each single-byte symbol, indexed by byte value. */
    private final int[] byteIds = new int[256];
    private final MergeTable merges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** A merge whose parts or result are not in the vocab: the merge is at fault, or the vocab. */
    static final class MergeOutsideVocab extends IllegalArgumentException {
        private final int rank;

        MergeOutsideVocab(int rank, String[] pair) {
            super("merge " + rank + " '" + pair[0] + " " + pair[1]
                    + "' uses or makes a token that is not in the vocab");
            this.rank = rank;
        }

        /** The merge's index in the merges given. */
        int rank() {
            return rank;
        }
    }

    /**
     * @param vocab  token string → id
     * @param merges merge pairs in rank order (first = applied first)
     * @throws IllegalArgumentException when a byte symbol is not in the vocab, or an id is out of range
     * @throws MergeOutsideVocab        when a merge part or a merge result is not in the vocab
     */
    ByteLevelBpe(Map<String, Integer> vocab, List<String[]> merges) {
        this.vocab = Map.copyOf(vocab);
        vocab.forEach((token, id) -> {
            if (id < 0 || id > MAX_TOKEN_ID) {
                throw new IllegalArgumentException("vocab id " + id + " of token '" + token + "' is outside [0, "
                        + MAX_TOKEN_ID + "]");
            }
        });
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[maxId + 1];
        vocab.forEach((token, id) -> idToToken[id] = token);
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(BYTE_TO_CHAR[b]));
            if (id == null) {
                throw new IllegalArgumentException("vocab lacks the byte-level symbol for byte " + b
                        + " ('" + BYTE_TO_CHAR[b] + "'); this is not a byte-level BPE vocab");
            }
            byteIds[b] = id;
        }
        this.merges = new MergeTable(merges.size());
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] pair = merges.get(rank);
            Integer left = vocab.get(pair[0]);
            Integer right = vocab.get(pair[1]);
            Integer merged = vocab.get(pair[0] + pair[1]);
            if (left == null || right == null || merged == null) {
                throw new MergeOutsideVocab(rank, pair);
            }
            this.merges.putIfAbsent(left, right, rank, merged);
        }
    }

    /** Number of ids the model vocab spans (max id + 1). */
    int idSpan() {
        return idToToken.length;
    }

    /** The id of a model-vocab token, or -1. */
    int idOf(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    /** The token string of a model id, or {@code null} when the id is outside the vocab. */
    String tokenOf(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** Splits {@code text[start, end)} as the GPT-2 regex does and appends the BPE ids of every piece. */
    void encode(String text, int start, int end, IdList out) {
        for (int p = start; p < end; ) {
            int q = nextSplit(text, p, end);
            encodeWord(text.substring(p, q), out);
            p = q;
        }
    }

    /**
     * The end of the piece starting at {@code p} under the GPT-2 split regex
     * {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}, alternatives tried in
     * order, with {@code \s} = Unicode White_Space as in the reference's Oniguruma; {@code end} ends the string.
     * Hand-written because {@code java.util.regex} costs several times the BPE itself; ByteLevelBpeTest checks it
     * against the regex on random text.
     */
    static int nextSplit(String text, int p, int end) {
        char c = text.charAt(p);
        if (c == '\'' && p + 1 < end) {
            int contraction = contractionEnd(text, p + 1, end);
            if (contraction > 0) {
                return contraction;
            }
        }
        int body = c == ' ' && p + 1 < end ? p + 1 : p;
        int cp = text.codePointAt(body);
        int kind = kind(cp);
        if (kind != SPACE) {
            // " ?\p{L}+", " ?\p{N}+" or " ?[^\s\p{L}\p{N}]+": a run of one kind, after an optional ASCII space.
            int q = body + Character.charCount(cp);
            while (q < end) {
                int next = text.codePointAt(q);
                if (kind(next) != kind) {
                    break;
                }
                q += Character.charCount(next);
            }
            return q;
        }
        int q = p + 1;
        while (q < end && isWhiteSpace(text.charAt(q))) {
            q++;
        }
        // "\s+(?!\S)" gives back the run's last char when a non-space follows, unless that leaves nothing ("\s+").
        return q == end || q - p == 1 ? q : q - 1;
    }

    private static final int SPACE = 0;
    private static final int LETTER = 1;
    private static final int NUMBER = 2;
    private static final int OTHER = 3;

    private static int kind(int cp) {
        if (cp < 0x80) {
            if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') {
                return LETTER;
            }
            if (cp >= '0' && cp <= '9') {
                return NUMBER;
            }
            return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) ? SPACE : OTHER;
        }
        if (cp <= 0xFFFF && isWhiteSpace((char) cp)) {
            return SPACE;
        }
        if (Character.isLetter(cp)) {
            return LETTER;
        }
        return switch (Character.getType(cp)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            default -> OTHER;
        };
    }

    /** After an apostrophe at {@code from - 1}: the end of {@code s t re ve m ll d}, or -1. */
    private static int contractionEnd(String text, int from, int end) {
        char a = text.charAt(from);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') {
            return from + 1;
        }
        if (from + 1 < end) {
            char b = text.charAt(from + 1);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
                return from + 2;
            }
        }
        return -1;
    }

    /**
     * Unicode White_Space, which {@code \s} matches in the reference's regex engines (Oniguruma for the split, Rust's
     * regex for lstrip/rstrip); every such char is in the BMP. Java's {@code Character.isWhitespace} differs (it
     * excludes U+00A0, U+2007, U+202F and includes U+001C..U+001F).
     */
    static boolean isWhiteSpace(char c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    private void encodeWord(String word, IdList out) {
        int[] cached = cache.get(word);
        if (cached != null) {
            out.addAll(cached);
            return;
        }
        int[] ids = bpe(word.getBytes(StandardCharsets.UTF_8));
        // Like HF's BPE cache: bounded, and once full it stops growing rather than evicting.
        if (word.length() < CACHE_MAX_WORD_CHARS && cache.size() < CACHE_CAPACITY) {
            cache.putIfAbsent(word, ids);
        }
        out.addAll(ids);
    }

    /**
     * Applies the merges to one word, lowest rank first and, among equal ranks, leftmost first: HF's
     * {@code Word::merge_all}, a priority queue over adjacent pairs with symbols in a linked list, O(n log n).
     */
    private int[] bpe(byte[] bytes) {
        int n = bytes.length;
        int[] symbol = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] removed = new boolean[n];
        for (int i = 0; i < n; i++) {
            symbol[i] = byteIds[bytes[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap queue = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) {
            offerPair(queue, symbol[i], symbol[i + 1], i);
        }
        int count = n;
        while (!queue.isEmpty()) {
            long top = queue.poll();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            // Skip entries made stale by an earlier merge: the left symbol is gone or the pair changed.
            if (removed[pos] || right < 0 || merges.rank(symbol[pos], symbol[right]) != rank) {
                continue;
            }
            symbol[pos] = merges.mergedId(rank);
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = pos;
            }
            count--;
            if (prev[pos] >= 0) {
                offerPair(queue, symbol[prev[pos]], symbol[pos], prev[pos]);
            }
            if (next[pos] >= 0) {
                offerPair(queue, symbol[pos], symbol[next[pos]], pos);
            }
        }
        int[] ids = new int[count];
        for (int i = 0, k = 0; i >= 0 && k < count; i = next[i]) {
            ids[k++] = symbol[i];
        }
        return ids;
    }

    private void offerPair(LongHeap queue, int left, int right, int pos) {
        int rank = merges.rank(left, right);
        if (rank >= 0) {
            queue.offer(((long) rank << 32) | pos);
        }
    }

    /** The bytes a token string stands for under the byte-level decoder, or {@code null} if any char is unmapped. */
    static byte[] bytesOf(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) {
                return null;
            }
            out[i] = (byte) CHAR_TO_BYTE[c];
        }
        return out;
    }

    /**
     * UTF-8 → String replacing each maximal ill-formed subsequence with one U+FFFD, exactly as Rust's
     * {@code String::from_utf8_lossy} (which the reference's ByteLevel decoder calls) does.
     */
    static String decodeLossy(byte[] bytes, int length) {
        String fast = new String(bytes, 0, length, StandardCharsets.UTF_8);
        // The JDK's decoder is exact on well-formed input, and on ill-formed input it always emits a U+FFFD; only
        // then does the replacement count need Rust's rule below.
        if (fast.indexOf('\uFFFD') < 0) {
            return fast;
        }
        StringBuilder out = new StringBuilder(length);
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                lo = b0 == 0xE0 ? 0xA0 : 0x80;
                hi = b0 == 0xED ? 0x9F : 0xBF;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                lo = b0 == 0xF0 ? 0x90 : 0x80;
                hi = b0 == 0xF4 ? 0x8F : 0xBF;
            } else {
                out.append('\uFFFD');
                i++;
                continue;
            }
            int codePoint = b0 & (0x3F >> need);
            int j = i + 1;
            boolean valid = true;
            for (int k = 0; k < need; k++, j++) {
                int b = j < length ? bytes[j] & 0xFF : -1;
                int min = k == 0 ? lo : 0x80;
                int max = k == 0 ? hi : 0xBF;
                if (b < min || b > max) {
                    valid = false;
                    break;
                }
                codePoint = (codePoint << 6) | (b & 0x3F);
            }
            if (valid) {
                out.appendCodePoint(codePoint);
            } else {
                out.append('\uFFFD');
            }
            i = j;
        }
        return out.toString();
    }

    /** Open-addressing map (left id, right id) → merge rank, with rank → merged id alongside. */
    private static final class MergeTable {
        private final long[] keys;
        private final int[] ranks;
        private final int[] mergedIds;
        private final int mask;

        MergeTable(int count) {
            int capacity = Integer.highestOneBit(Math.max(4, count * 2 - 1)) << 1;
            keys = new long[capacity];
            ranks = new int[capacity];
            Arrays.fill(ranks, -1);
            mergedIds = new int[count];
            mask = capacity - 1;
        }

        /** A repeated pair keeps its first (lowest) rank, as HF's merges map does when built in rank order. */
        void putIfAbsent(int left, int right, int rank, int mergedId) {
            long key = key(left, right);
            int slot = slot(key);
            while (ranks[slot] >= 0) {
                if (keys[slot] == key) {
                    return;
                }
                slot = (slot + 1) & mask;
            }
            keys[slot] = key;
            ranks[slot] = rank;
            mergedIds[rank] = mergedId;
        }

        /** The rank of merging {@code left right}, or -1 when they do not merge. */
        int rank(int left, int right) {
            long key = key(left, right);
            for (int slot = slot(key); ranks[slot] >= 0; slot = (slot + 1) & mask) {
                if (keys[slot] == key) {
                    return ranks[slot];
                }
            }
            return -1;
        }

        int mergedId(int rank) {
            return mergedIds[rank];
        }

        private static long key(int left, int right) {
            return ((long) left << 32) | (right & 0xFFFFFFFFL);
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h >>> 40) & mask;
        }
    }

    /** A binary min-heap of longs: {@code rank << 32 | position}, so the lowest rank, then leftmost, comes first. */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void offer(long value) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long poll() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (heap[child] >= last) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
