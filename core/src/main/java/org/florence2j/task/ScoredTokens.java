package org.florence2j.task;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The generated tokens as the score path of the reference sees them ({@code Florence2PostProcesser.__call__} with
 * {@code sequence} and {@code transition_beam_score}, {@code processing_florence2.py}): one text piece and one
 * transition log-probability per generated token, the decoder start token left out.
 *
 * <p>A piece is the token itself for a special token ({@code <s>}, {@code <loc_12>}, …) and the byte-level decode
 * of that one token otherwise ({@code decode_with_spans}); the text to parse is the pieces joined, and each piece's
 * span in it ties a match back to its tokens' scores. Spans count code points, as Python's {@code len} does (a
 * piece such as {@code " 🙂"} is two, not three UTF-16 units).
 */
public final class ScoredTokens {
    private final List<String> pieces;
    private final float[] scores;      // [tokens]
    private final int[] spanStarts;    // [tokens + 1]: piece i spans code points [spanStarts[i], spanStarts[i + 1])
    private final String text;

    /**
     * @param pieces one text piece per generated token
     * @param scores one transition log-probability per generated token, float32 as generation computes them (the
     *               reference averages the float32 values in double)
     * @throws IllegalArgumentException when the lengths differ
     */
    public ScoredTokens(List<String> pieces, float[] scores) {
        if (pieces.size() != scores.length) {
            throw new IllegalArgumentException(
                    "ScoredTokens: " + pieces.size() + " token pieces but " + scores.length + " scores");
        }
        this.pieces = List.copyOf(pieces);
        this.scores = scores.clone();
        this.spanStarts = new int[pieces.size() + 1];
        StringBuilder joined = new StringBuilder();
        for (int i = 0; i < pieces.size(); i++) {
            joined.append(pieces.get(i));
            spanStarts[i + 1] = spanStarts[i] + PyText.length(pieces.get(i));
        }
        this.text = joined.toString();
    }

    /**
     * From a generated sequence as {@code generate()} returns it (decoder start token first) and the transition
     * scores of the tokens after it, as {@code compute_transition_scores} gives them.
     *
     * @param sequence  generated ids, {@code [decoder_start, tokens...]}
     * @param scores    one transition log-probability per id after the first
     * @param pieceOfId the text piece of one id: the token for special tokens, its byte-level decode otherwise
     * @throws IllegalArgumentException when {@code scores} is not one shorter than {@code sequence}
     */
    public static ScoredTokens of(int[] sequence, float[] scores, IntFunction<String> pieceOfId) {
        if (sequence.length == 0 || sequence.length - 1 != scores.length) {
            throw new IllegalArgumentException("ScoredTokens: a sequence of " + sequence.length
                    + " ids needs " + Math.max(0, sequence.length - 1) + " transition scores, got " + scores.length);
        }
        List<String> pieces = new ArrayList<>(scores.length);
        for (int id : Arrays.copyOfRange(sequence, 1, sequence.length)) {
            pieces.add(pieceOfId.apply(id));
        }
        return new ScoredTokens(pieces, scores);
    }

    /** The pieces joined: the text the score path parses. */
    public String text() {
        return text;
    }

    /** The number of tokens. */
    public int size() {
        return pieces.size();
    }

    /** The text pieces, one per token. */
    public List<String> pieces() {
        return pieces;
    }

    /**
     * The mean score of the tokens whose span overlaps code points {@code [start, end)} of {@link #text()}, as the
     * reference's {@code find_matched_token_indices} and {@code sum(...) / len(...)} over Python floats (float32
     * widened, summed in double, in order); NaN when no token overlaps (where the reference divides by zero).
     */
    double meanScoreOverlapping(int start, int end) {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < pieces.size(); i++) {
            boolean disjoint = spanStarts[i + 1] <= start || spanStarts[i] >= end;
            if (!disjoint) {
                sum += scores[i];
                count++;
            }
        }
        return count == 0 ? Double.NaN : sum / count;
    }
}
