package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.florence2j.backend.OpChecks;
import org.florence2j.tensor.Tensor;

/**
 * {@link CpuBackend#logSoftmaxTopK}, reading the logits where they lie and writing nothing the size of a row. Per
 * row: one pass for the maximum, one for {@code Σ exp(x - max)} widened to double (the sum the searches computed on
 * the host before this op, so beam scores keep their bits), and one that computes each score in F32 exactly as the
 * contract spells it and offers it to the top-k list (sorted, or a heap for a large k) only when it beats the
 * current k-th best, which after the first few hundred tokens is rare. Banned tokens are marked in a bitmap over the
 * vocabulary for the row and cleared after it. Holds its scratch between calls; not thread-safe (the backend
 * serialises its ops).
 *
 * <p>This class runs the three passes as scalar loops, for a JVM without the Vector API ({@link VectorApi});
 * {@link VectorLogSoftmaxTopK} runs them with vectors, ~7× as fast once compiled (3 beams over Florence-2's 51,289
 * tokens: 0.3 ms against 2.0–2.5 ms). Both compute each score with the same F32 operations; only the double sum
 * differs, in its order and, once C2 has compiled the vector kernel, in its exponential's last bits (SVML's against
 * {@link Math#exp}). Over 51,289 terms its rounding is ~1e-12 absolute, so the log-sum, and every score of its row,
 * may differ by that much: nothing where scores are of order 1, but many ulps of a score near 0 (a row whose best
 * token takes nearly all the probability), and a tie between two rows' candidates may then break the other way.
 */
class LogSoftmaxTopK {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    /**
     * From this k on the held list is a heap, sorted once a row is done: the sorted list's insertion moves up to k
     * entries a token, which made a step of thousands of beams (k = 2 × beams, one row per beam) take minutes.
     */
    static final int HEAP_FROM_K = 32;

    long[] banned = new long[0]; // bit v: token v is banned in the row being processed
    private float[] topScores = new float[0]; // [k], best first
    private int[] topTokens = new int[0]; // [k]
    private float[] topLogProbs = new float[0]; // [k]
    double total; // the row's Σ exp(x - max), set by sumExp
    double kept; // the same over the tokens not banned

    /** Runs the op on arguments {@link OpChecks#logSoftmaxTopK} accepted (host tensors). */
    void run(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits, Tensor bannedTokens,
            int forcedToken, Tensor scoreOffsets) {
        int rows = logits.shape().dim(0);
        int vocabulary = logits.shape().dim(1);
        int k = scores.shape().dim(1);
        if (bannedTokens != null) {
            OpChecks.bannedTokens(bannedTokens, vocabulary);
        }
        reserve(vocabulary, k);
        MemorySegment x = logits.memory();
        for (int r = 0; r < rows; r++) {
            float offset = scoreOffsets == null ? 0f : scoreOffsets.memory().getAtIndex(F32, r);
            long outIndex = (long) r * k;
            if (forcedToken >= 0) {
                // The forced token's log-prob is 0 and every other token's -inf, whatever the logits.
                clearTop(k);
                topScores[0] = 0f + offset;
                topTokens[0] = forcedToken;
                topLogProbs[0] = 0f;
                write(scores, tokens, logProbs, outIndex, k);
                logSumExp.memory().setAtIndex(F32, r, 0f);
                continue;
            }
            long rowByte = (long) r * vocabulary * Float.BYTES;
            markBanned(bannedTokens, r, true);
            float max = max(x, rowByte, vocabulary);
            sumExp(x, rowByte, vocabulary, max, bannedTokens != null);
            float logSum = (float) Math.log(total);
            logSumExp.memory().setAtIndex(F32, r, (float) Math.log(kept / total));
            selectTop(x, rowByte, vocabulary, max, logSum, offset, k);
            markBanned(bannedTokens, r, false);
            for (int j = 0; j < k && topTokens[j] >= 0; j++) {
                // The same F32 operations that made the token's score.
                topLogProbs[j] = (x.get(F32, rowByte + (long) topTokens[j] * Float.BYTES) - max) - logSum;
            }
            write(scores, tokens, logProbs, outIndex, k);
        }
    }

    private void reserve(int vocabulary, int k) {
        int words = (vocabulary + Long.SIZE - 1) / Long.SIZE;
        if (banned.length < words) {
            banned = new long[words];
        }
        if (topScores.length < k) {
            topScores = new float[k];
            topTokens = new int[k];
            topLogProbs = new float[k];
        }
    }

    /** The row's largest logit. */
    float max(MemorySegment x, long rowByte, int vocabulary) {
        return maxFrom(x, rowByte, 0, vocabulary, Float.NEGATIVE_INFINITY);
    }

    /** The largest of {@code max} and the row's logits from token {@code from} on. */
    static float maxFrom(MemorySegment x, long rowByte, int from, int vocabulary, float max) {
        for (int v = from; v < vocabulary; v++) {
            max = Math.max(max, x.get(F32, rowByte + (long) v * Float.BYTES));
        }
        return max;
    }

    /**
     * Sets {@link #total} to {@code Σ exp(x - max)}, the difference in F32, its exponential and the sum in double,
     * and {@link #kept} to the same sum over the tokens not banned: the same terms in the same order, so without
     * bans the two are equal and with every token banned {@code kept} is exactly 0.
     */
    void sumExp(MemorySegment x, long rowByte, int vocabulary, float max, boolean banning) {
        sumExpFrom(x, rowByte, 0, vocabulary, max, banning, 0, 0);
    }

    /**
     * Sets {@link #total} and {@link #kept} to {@code totalSum} and {@code keptSum} plus the terms of the row's
     * tokens from {@code from} on.
     */
    void sumExpFrom(MemorySegment x, long rowByte, int from, int vocabulary, float max, boolean banning,
            double totalSum, double keptSum) {
        for (int v = from; v < vocabulary; v++) {
            double exp = Math.exp(x.get(F32, rowByte + (long) v * Float.BYTES) - max);
            totalSum += exp;
            keptSum += banning && isBanned(v) ? 0 : exp;
        }
        total = totalSum;
        kept = keptSum;
    }

    /**
     * Sets the bits of row {@code row}'s banned tokens in {@link #banned}, or clears them: clearing zeroes each
     * listed token's whole word, since every bit set belongs to this row's list.
     */
    private void markBanned(Tensor bannedTokens, int row, boolean banning) {
        if (bannedTokens == null) {
            return;
        }
        MemorySegment list = bannedTokens.memory();
        int width = bannedTokens.shape().dim(1);
        for (int i = 0; i < width; i++) {
            int id = list.getAtIndex(I32, (long) row * width + i);
            if (id < 0) {
                break;
            }
            banned[id >>> 6] = banning ? banned[id >>> 6] | 1L << id : 0;
        }
    }

    boolean isBanned(int token) {
        return (banned[token >>> 6] & 1L << token) != 0;
    }

    /**
     * Fills {@code topScores}/{@code topTokens} with the row's k best of {@code ((x - max) - logSum) + offset}, best
     * first; of equal scores the lower token first.
     */
    private void selectTop(MemorySegment x, long rowByte, int vocabulary, float max, float logSum, float offset,
            int k) {
        clearTop(k);
        boolean heap = k >= HEAP_FROM_K;
        int v = offerLeading(x, rowByte, vocabulary, max, logSum, offset, k, heap);
        float threshold = heap ? topScores[0] : topScores[k - 1]; // the worst held score: a score must beat it
        for (; v < vocabulary; v++) {
            float score = ((x.get(F32, rowByte + (long) v * Float.BYTES) - max) - logSum) + offset;
            if (score > threshold) {
                threshold = offer(score, v, k, heap);
            }
        }
        if (heap) {
            sortHeap(k);
        }
    }

    /**
     * Offers the row's first tokens to the held list, as {@link #selectTop}'s loop would, and returns the first
     * token not offered: here none, {@link VectorLogSoftmaxTopK} a whole number of vectors.
     */
    int offerLeading(MemorySegment x, long rowByte, int vocabulary, float max, float logSum, float offset, int k,
            boolean heap) {
        return 0;
    }

    /** Offers a token to the held list, a heap or not; returns the new worst held score. */
    final float offer(float score, int token, int k, boolean heap) {
        return heap ? offerToHeap(score, token, k) : offerToList(score, token, k);
    }

    /**
     * Puts a token in place of the heap's worst entry unless it is banned or does not beat it; tokens arrive in
     * increasing order, so an equal score is worse than those already held. Returns the new worst score.
     */
    private float offerToHeap(float score, int token, int k) {
        if (score > topScores[0] && !isBanned(token)) {
            siftDown(score, token, k);
        }
        return topScores[0];
    }

    /** Turns the heap, worst entry first, into the best-first list. */
    private void sortHeap(int k) {
        for (int end = k - 1; end > 0; end--) {
            float score = topScores[end];
            int token = topTokens[end];
            topScores[end] = topScores[0];
            topTokens[end] = topTokens[0];
            siftDown(score, token, end);
        }
    }

    /** Places {@code (score, token)} at the root of the heap of {@code size} entries and sinks it to its place. */
    private void siftDown(float score, int token, int size) {
        int at = 0;
        for (int child = 1; child < size; child = 2 * at + 1) {
            if (child + 1 < size && worse(topScores[child + 1], topTokens[child + 1], topScores[child],
                    topTokens[child])) {
                child++;
            }
            if (!worse(topScores[child], topTokens[child], score, token)) {
                break;
            }
            topScores[at] = topScores[child];
            topTokens[at] = topTokens[child];
            at = child;
        }
        topScores[at] = score;
        topTokens[at] = token;
    }

    /** Whether entry a ranks below entry b: a lower score, or an equal one with a higher token. */
    private static boolean worse(float scoreA, int tokenA, float scoreB, int tokenB) {
        return scoreA < scoreB || scoreA == scoreB && tokenA > tokenB;
    }

    /**
     * Inserts a token into the best-first list unless it is banned or does not beat the last entry; tokens arrive
     * in increasing order, so an equal score goes after those already held. Returns the new last score.
     */
    private float offerToList(float score, int token, int k) {
        if (score > topScores[k - 1] && !isBanned(token)) {
            int at = k - 1;
            for (; at > 0 && score > topScores[at - 1]; at--) {
                topScores[at] = topScores[at - 1];
                topTokens[at] = topTokens[at - 1];
            }
            topScores[at] = score;
            topTokens[at] = token;
        }
        return topScores[k - 1];
    }

    /** Empties the held list: every entry is "no candidate", {@code (-inf, -1)}. */
    private void clearTop(int k) {
        Arrays.fill(topScores, 0, k, Float.NEGATIVE_INFINITY);
        Arrays.fill(topTokens, 0, k, -1);
        Arrays.fill(topLogProbs, 0, k, Float.NEGATIVE_INFINITY);
    }

    /** Writes the held list as the output rows' entries from {@code outIndex}. */
    private void write(Tensor scores, Tensor tokens, Tensor logProbs, long outIndex, int k) {
        MemorySegment.copy(topScores, 0, scores.memory(), F32, outIndex * Float.BYTES, k);
        MemorySegment.copy(topTokens, 0, tokens.memory(), I32, outIndex * Integer.BYTES, k);
        MemorySegment.copy(topLogProbs, 0, logProbs.memory(), F32, outIndex * Float.BYTES, k);
    }
}
