package org.florence2j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Inputs for {@link Backend#logSoftmaxTopK} that every backend is checked on against {@code ReferenceBackend}, and
 * the comparison. Logits are multiples of 1/1024, so equal logits are exact ties (and stay ties on every backend)
 * while distinct ones are at least 1e-3 apart, far beyond any backend's rounding: the chosen tokens must then agree
 * exactly, and scores and log-probs within {@link Tolerance#KERNEL_F32}.
 */
public final class LogSoftmaxTopKCases {
    /** The vocabulary of Florence-2's BART: not a multiple of any vector or block width. */
    public static final int FLORENCE2_VOCABULARY = 51289;

    private LogSoftmaxTopKCases() {}

    /**
     * One call.
     *
     * @param bans    {@code [rows · banWidth]}, each row's ids then {@code -1} unless full; {@code null} for none
     * @param offsets {@code [rows]}, or {@code null}
     */
    public record Case(String name, int rows, int vocabulary, int k, float[] logits, int[] bans, int banWidth,
            int forcedToken, float[] offsets) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** What a call wrote, downloaded. */
    public record Result(float[] scores, int[] tokens, float[] logProbs, float[] logSumExp) {}

    /** The cases: Florence-2's vocabulary with k = 1 and k = 6, forcing, bans, small vocabularies, large k. */
    public static List<Case> cases() {
        Random random = new Random(20261126);
        int v = FLORENCE2_VOCABULARY;
        // Beam search's three rows: ties planted at the top, bans with a repeat, offsets 0, a beam score, and the
        // -1e9 of a beam not yet started (scores round to multiples of 64 there, all ties).
        float[] beams = tiedAtTop(random, 3, v, 3);
        int top = argmax(beams, 0, v);
        int[] beamBans = bans(3, 8, new int[] {top, 17, top}, new int[0], new int[] {5, 5, 9, 51288});
        Case beam = new Case("vocabulary 51289, k 6, bans, offsets", 3, v, 6, beams, beamBans, 8, -1,
                new float[] {0f, -1.25f, -1e9f});
        // Greedy: k 1, the second row's best token banned.
        float[] greedy = tiedAtTop(random, 2, v, 2);
        Case greedyCase = new Case("vocabulary 51289, k 1, ban the best", 2, v, 1, greedy,
                bans(2, 4, new int[0], new int[] {argmax(greedy, v, v)}), 4, -1, null);
        Case forced = new Case("vocabulary 51289, k 6, forced token over a ban", 3, v, 6, tiedAtTop(random, 3, v, 1),
                bans(3, 2, new int[] {2}, new int[0], new int[] {0, 1}), 2, 2, new float[] {0f, -3.5f, -1e9f});
        // Fewer candidates than k: row 0 has 4 of 8 tokens banned and one -inf logit, row 1 bans all 8 (a full row).
        float[] small = quantized(random, 2, 8);
        small[6] = Float.NEGATIVE_INFINITY;
        Case fewer = new Case("vocabulary 8, k 6, fewer candidates than k", 2, 8, 6, small,
                bans(2, 8, new int[] {0, 3, 4, 7}, new int[] {7, 6, 5, 4, 3, 2, 1, 0}), 8, -1,
                new float[] {0.5f, 0f});
        float[] ties = {1, 1, 0, 1, -2, 0, 1, 0, 0, 0, 0, 0, 0, 0};
        Case allTies = new Case("vocabulary 7, k 7, ties", 2, 7, 7, ties, null, 0, -1, new float[] {0f, 2f});
        Case rounds = new Case("vocabulary 300, k 40, several kernel rounds", 2, 300, 40, quantizedCoarse(random, 600),
                bans(2, 3, new int[] {1, 2, 3}, new int[0]), 3, -1, new float[] {-1f, 0f});
        float[] ascending = new float[1000];
        for (int i = 0; i < ascending.length; i++) {
            ascending[i] = i / 64f;
        }
        Case increasing = new Case("vocabulary 1000, k 6, increasing logits", 1, 1000, 6, ascending, null, 0, -1,
                null);
        // A search of 300 beams (k 600): most of the vocabulary ties with many others, and bans reach into the top.
        float[] wide = quantizedCoarse(random, 2 * v);
        Case manyBeams = new Case("vocabulary 51289, k 600, coarse ties", 2, v, 600, wide,
                bans(2, 3, new int[] {argmax(wide, 0, v), 11, 12}, new int[0]), 3, -1, new float[] {0f, -2f});
        // The same with k 40 (above the CPU's sorted-list limit, 32): placeholders survive to the output.
        float[] fewerWide = quantizedCoarse(random, 2 * 48);
        fewerWide[5] = Float.NEGATIVE_INFINITY;
        fewerWide[48 + 7] = Float.NEGATIVE_INFINITY;
        Case fewerHeap = new Case("vocabulary 48, k 40, fewer candidates than k", 2, 48, 40, fewerWide,
                bans(2, 12, new int[] {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, new int[] {1, 3}), 12, -1,
                new float[] {0f, -1e9f});
        return List.of(beam, greedyCase, forced, fewer, allTies, rounds, increasing, manyBeams, fewerHeap);
    }

    /**
     * Runs {@code c} on {@code backend}: logits uploaded to its device, ban list and offsets left on the host when
     * {@code hostLists} (else uploaded too), outputs allocated there and downloaded.
     */
    public static Result run(Backend backend, Case c, boolean hostLists) {
        try (Arena arena = Arena.ofConfined()) {
            Tensor logits = backend.upload(Tensor.ofFloats(Shape.of(c.rows(), c.vocabulary()), arena, c.logits()),
                    DType.F32, arena);
            Tensor bans = c.bans() == null ? null : Tensor.ofInts(Shape.of(c.rows(), c.banWidth()), arena, c.bans());
            Tensor offsets = c.offsets() == null ? null : Tensor.ofFloats(Shape.of(c.rows()), arena, c.offsets());
            if (!hostLists) {
                bans = bans == null ? null : backend.upload(bans, DType.I32, arena);
                offsets = offsets == null ? null : backend.upload(offsets, DType.F32, arena);
            }
            Shape candidates = Shape.of(c.rows(), c.k());
            Tensor scores = backend.allocate(DType.F32, candidates, arena);
            Tensor tokens = backend.allocate(DType.I32, candidates, arena);
            Tensor logProbs = backend.allocate(DType.F32, candidates, arena);
            Tensor logSumExp = backend.allocate(DType.F32, Shape.of(c.rows()), arena);
            backend.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bans, c.forcedToken(), offsets);
            return new Result(floats(backend, scores, arena), ints(backend, tokens, arena),
                    floats(backend, logProbs, arena), floats(backend, logSumExp, arena));
        }
    }

    /** Tokens exactly; scores, log-probs and log-sum-exps within {@link Tolerance#KERNEL_F32}, infinities exact. */
    public static void assertMatches(String what, Result expected, Result actual) {
        assertArrayEquals(expected.tokens(), actual.tokens(), what + ": tokens " + Arrays.toString(expected.tokens())
                + " expected, got " + Arrays.toString(actual.tokens()));
        Tolerance.KERNEL_F32.assertClose(what + " scores", expected.scores(), actual.scores());
        Tolerance.KERNEL_F32.assertClose(what + " logProbs", expected.logProbs(), actual.logProbs());
        Tolerance.KERNEL_F32.assertClose(what + " logSumExp", expected.logSumExp(), actual.logSumExp());
    }

    private static float[] floats(Backend backend, Tensor tensor, Arena arena) {
        Tensor host = Tensor.allocateHost(DType.F32, tensor.shape(), arena);
        backend.download(tensor, host);
        return host.toFloatArray();
    }

    private static int[] ints(Backend backend, Tensor tensor, Arena arena) {
        Tensor host = Tensor.allocateHost(DType.I32, tensor.shape(), arena);
        backend.download(tensor, host);
        return Arrays.stream(host.toLongArray()).mapToInt(Math::toIntExact).toArray();
    }

    /** {@code rows × vocabulary} Gaussian logits (σ 3) in steps of 1/1024. */
    private static float[] quantized(Random random, int rows, int vocabulary) {
        float[] logits = new float[rows * vocabulary];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = Math.round(random.nextGaussian() * 3 * 1024) / 1024f;
        }
        return logits;
    }

    /** Logits on 33 levels in [-4, 4]: most tokens tie with many others. */
    private static float[] quantizedCoarse(Random random, int count) {
        float[] logits = new float[count];
        for (int i = 0; i < count; i++) {
            logits[i] = (random.nextInt(33) - 16) / 4f;
        }
        return logits;
    }

    /** {@link #quantized} with each row's maximum copied to {@code copies} more random tokens. */
    private static float[] tiedAtTop(Random random, int rows, int vocabulary, int copies) {
        float[] logits = quantized(random, rows, vocabulary);
        for (int r = 0; r < rows; r++) {
            float max = logits[r * vocabulary + argmax(logits, r * vocabulary, vocabulary)];
            for (int c = 0; c < copies; c++) {
                logits[r * vocabulary + random.nextInt(vocabulary)] = max;
            }
        }
        return logits;
    }

    private static int argmax(float[] values, int offset, int count) {
        int best = 0;
        for (int i = 1; i < count; i++) {
            if (values[offset + i] > values[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    /** A {@code [rows.length, width]} ban list: each row's ids, then {@code -1} unless they fill the row. */
    private static int[] bans(int rows, int width, int[]... lists) {
        int[] bans = new int[rows * width];
        Arrays.fill(bans, -1);
        for (int r = 0; r < lists.length; r++) {
            System.arraycopy(lists[r], 0, bans, r * width, lists[r].length);
        }
        return bans;
    }
}
