package org.florence2j.backend.ref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Pins the element-wise, linear-algebra and data-movement ops of {@link ReferenceBackend} to hand-computed values. */
class ReferenceBackendTest {
    private final Arena arena = Arena.ofConfined();
    private final ReferenceBackend backend = new ReferenceBackend();

    @AfterEach
    void closeArena() {
        backend.close();
        arena.close();
    }

    private Tensor floats(Shape shape, float... values) {
        return Tensor.ofFloats(shape, arena, values);
    }

    private Tensor zeros(int... dims) {
        return backend.allocate(DType.F32, Shape.of(dims), arena);
    }

    @Test
    void layerNormOfKnownRowWithWeightAndBiasInPlace() {
        // mean 2.5, biased variance 1.25, so (x - 2.5) / sqrt(1.25) = ±1.3416407864998738, ±0.4472135954999579.
        Tensor x = floats(Shape.of(1, 1, 4), 1, 2, 3, 4);
        Tensor weight = floats(Shape.of(4), 2, 1, 1, 1);
        Tensor bias = floats(Shape.of(4), 0, 0, 0, 1);
        backend.layerNorm(x, x, weight, bias, 0f);
        assertArrayEquals(new float[] {-2.6832815729997476f, -0.4472135954999579f, 0.4472135954999579f,
            2.3416407864998738f}, x.toFloatArray(), 1e-6f);
    }

    @Test
    void layerNormAddsEpsToVariance() {
        // Row (0, 2): mean 1, variance 1; eps 3 gives (x - 1) / 2.
        Tensor out = zeros(1, 2);
        backend.layerNorm(out, floats(Shape.of(1, 2), 0, 2), floats(Shape.of(2), 1, 1), floats(Shape.of(2), 0, 0),
                3f);
        assertArrayEquals(new float[] {-0.5f, 0.5f}, out.toFloatArray(), 1e-7f);
    }

    @Test
    void softmaxKnownValuesAndLargeInputs() {
        Tensor x = floats(Shape.of(2, 3), 0, (float) Math.log(2), (float) Math.log(3), 1000, 1000, -1000);
        backend.softmax(x, x);
        assertArrayEquals(new float[] {1 / 6f, 2 / 6f, 3 / 6f, 0.5f, 0.5f, 0}, x.toFloatArray(), 1e-7f);
    }

    @Test
    void geluMatchesExactErfAtKnownPoints() {
        // x·Φ(x), values from math.erf / math.erfc in double.
        assertEquals(0.8413447460685429, ReferenceBackend.gelu(1), 1e-16);
        assertEquals(-0.004049694094890284, ReferenceBackend.gelu(-3), 1e-15);
        assertEquals(0, ReferenceBackend.gelu(0));
        assertEquals(0.5204998778130465, ReferenceBackend.erf(0.5), 1e-15);
        assertEquals(-0.5204998778130465, ReferenceBackend.erf(-0.5), 1e-15);
        assertEquals(2.2090496998585438e-05, ReferenceBackend.erfc(3), 2.2e-05 * 1e-13);
        assertEquals(1.5374597944280351e-12, ReferenceBackend.erfc(5), 1.5e-12 * 1e-13);
        assertEquals(2 - 1.5374597944280351e-12, ReferenceBackend.erfc(-5), 1e-15);
        // Far tail: Φ(-10) = erfc(10/√2)/2 = 7.619853024160526e-24, where 1 + erf(x/√2) would give 0.
        assertEquals(-10 * 7.619853024160526e-24, ReferenceBackend.gelu(-10), 1e-35);

        Tensor x = floats(Shape.of(4), 1, -3, 0, 8);
        Tensor out = zeros(4);
        backend.gelu(out, x);
        assertArrayEquals(new float[] {0.8413447460685429f, -0.004049694094890287f, 0, 8}, out.toFloatArray(), 0);
    }

    @Test
    void linearWithBiasAndSixteenBitWeights() {
        Tensor x = floats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        Tensor weight = floats(Shape.of(2, 3), 1, 0, -1, 0.5f, 0.5f, 0.5f);
        Tensor bias = floats(Shape.of(2), 10, -1);
        float[] expected = {8, 2, 8, 6.5f};
        Tensor out = zeros(2, 2);
        backend.linear(out, x, weight, bias);
        assertArrayEquals(expected, out.toFloatArray(), 0);
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            Tensor out16 = zeros(2, 2);
            backend.linear(out16, x, backend.upload(weight, dtype, arena), backend.upload(bias, dtype, arena));
            assertArrayEquals(expected, out16.toFloatArray(), 0, dtype.toString());
        }
        Tensor noBias = zeros(2, 2);
        backend.linear(noBias, x, weight, null);
        assertArrayEquals(new float[] {-2, 3, -2, 7.5f}, noBias.toFloatArray(), 0);
    }

    @Test
    void matmulBroadcastsBatchOneRightHandSide() {
        Tensor a = floats(Shape.of(2, 1, 2), 1, 2, 3, 4);
        Tensor b = floats(Shape.of(1, 2, 2), 1, 2, 3, 4);
        Tensor out = zeros(2, 1, 2);
        backend.matmul(out, a, b);
        assertArrayEquals(new float[] {7, 10, 15, 22}, out.toFloatArray(), 0);

        Tensor perBatch = floats(Shape.of(2, 2, 1), 1, 0, 0, 1);
        Tensor picked = zeros(2, 1, 1);
        backend.matmul(picked, a, perBatch);
        assertArrayEquals(new float[] {1, 4}, picked.toFloatArray(), 0);
    }

    @Test
    void addBroadcastsSuffixShape() {
        Tensor a = floats(Shape.of(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8);
        Tensor table = floats(Shape.of(2, 2), 10, 20, 30, 40);
        backend.add(a, a, table);
        assertArrayEquals(new float[] {11, 22, 33, 44, 15, 26, 37, 48}, a.toFloatArray(), 0);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> backend.add(zeros(2, 2, 2), a, floats(Shape.of(3), 1, 2, 3)));
        assertTrue(error.getMessage().startsWith("add:"), error.getMessage());
    }

    @Test
    void channelsLastMeanTokensAndConcat() {
        // [1, 2 channels, 1 × 3] → [1, 3 tokens, 2 channels]
        Tensor x = floats(Shape.of(1, 2, 1, 3), 1, 2, 3, 10, 20, 30);
        Tensor tokens = zeros(1, 3, 2);
        backend.channelsLast(tokens, x);
        assertArrayEquals(new float[] {1, 10, 2, 20, 3, 30}, tokens.toFloatArray(), 0);

        Tensor mean = zeros(1, 1, 2);
        backend.meanTokens(mean, tokens);
        assertArrayEquals(new float[] {2, 20}, mean.toFloatArray(), 0);

        Tensor a = floats(Shape.of(2, 1, 2), 1, 2, 3, 4);
        Tensor b = floats(Shape.of(2, 2, 2), 5, 6, 7, 8, 9, 10, 11, 12);
        Tensor joined = zeros(2, 3, 2);
        backend.concatTokens(joined, a, b);
        assertArrayEquals(new float[] {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, joined.toFloatArray(), 0);
    }

    @Test
    void writeRowsAndGatherRowsOnCaches() {
        Tensor cache = zeros(2, 3, 1);
        backend.writeRows(cache, floats(Shape.of(2, 2, 1), 1, 2, 3, 4), 1);
        assertArrayEquals(new float[] {0, 1, 2, 0, 3, 4}, cache.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class,
                () -> backend.writeRows(cache, floats(Shape.of(2, 2, 1), 1, 2, 3, 4), 2));

        Tensor reordered = floats(Shape.of(3, 3, 1), -1, -1, -1, -1, -1, -1, -1, -1, -1);
        backend.gatherRows(reordered, cache, new int[] {1, 1, 0}, 2);
        // Only the first 2 rows of each beam are copied; the third keeps its old value.
        assertArrayEquals(new float[] {0, 3, -1, 0, 3, -1, 0, 1, -1}, reordered.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> backend.gatherRows(reordered, cache, new int[] {0, 2, 0},
                1));
        assertThrows(IllegalArgumentException.class, () -> backend.gatherRows(cache, cache, new int[] {1, 0}, 1));

        // First rows: beam 0 copies from row 1, beam 1 nothing (its first row is the prefix), beam 2 everything.
        Tensor partly = floats(Shape.of(3, 3, 1), -1, -1, -1, -1, -1, -1, -1, -1, -1);
        backend.gatherRows(partly, cache, new int[] {1, 1, 0}, new int[] {1, 2, 0}, 2);
        assertArrayEquals(new float[] {-1, 3, -1, -1, -1, -1, 0, 1, -1}, partly.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> backend.gatherRows(partly, cache, new int[] {1, 1, 0},
                new int[] {0, 3, 0}, 2));
        assertThrows(IllegalArgumentException.class, () -> backend.gatherRows(partly, cache, new int[] {1, 1, 0},
                new int[] {0, -1, 0}, 2));
        assertThrows(IllegalArgumentException.class, () -> backend.gatherRows(partly, cache, new int[] {1, 1, 0},
                new int[] {0, 0}, 2));
    }

    @Test
    void embeddingLooksUpRowsAndRejectsOutOfRangeIds() {
        Tensor table = backend.upload(floats(Shape.of(3, 2), 0, 1, 10, 11, 20, 21), DType.BF16, arena);
        Tensor out = zeros(1, 2, 2);
        backend.embedding(out, table, Tensor.ofInts(Shape.of(1, 2), arena, 2, 0));
        assertArrayEquals(new float[] {20, 21, 0, 1}, out.toFloatArray(), 0);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> backend.embedding(out, table, Tensor.ofInts(Shape.of(1, 2), arena, 1, 3)));
        assertTrue(error.getMessage().contains("id 3") && error.getMessage().contains("[0, 3)"),
                error.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> backend.embedding(out, table, Tensor.ofInts(Shape.of(1, 2), arena, -1, 0)));
    }

    @Test
    void copyUploadAndDownloadConvertDtypes() {
        // 1 + 2^-8 lies halfway between BF16 1 and 1 + 2^-7: ties go to the even significand (1); 1 + 3·2^-8 lies
        // halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        Tensor values = floats(Shape.of(3), 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, -2.5f);
        Tensor bf16 = backend.upload(values, DType.BF16, arena);
        assertEquals(DType.BF16, bf16.dtype());
        assertArrayEquals(new float[] {1, 1 + 0x1p-6f, -2.5f}, bf16.toFloatArray(), 0);

        assertSame(values, backend.upload(values, DType.F32, arena));

        Tensor f16 = backend.allocate(DType.F16, Shape.of(3), arena);
        backend.copy(f16, values);
        assertArrayEquals(new float[] {1 + 0x1p-8f, 1 + 3 * 0x1p-8f, -2.5f}, f16.toFloatArray(), 0);

        Tensor back = zeros(3);
        backend.download(bf16, back);
        assertArrayEquals(new float[] {1, 1 + 0x1p-6f, -2.5f}, back.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> backend.copy(zeros(1, 3), values));
        assertThrows(IllegalArgumentException.class, () -> backend.upload(values, DType.I32, arena));
        assertThrows(IllegalArgumentException.class,
                () -> backend.upload(Tensor.ofInts(Shape.of(1), arena, 7), DType.F32, arena));
    }

    @Test
    void shapeMismatchNamesOpAndShapes() {
        Tensor x = floats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        Tensor weight = zeros(2, 4);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> backend.linear(zeros(2, 2), x, weight, null));
        assertEquals("linear: invalid arguments out F32[2, 2] on cpu, x F32[2, 3] on cpu, weight F32[2, 4] on cpu, "
                + "bias null", error.getMessage());

        IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                () -> backend.gelu(backend.allocate(DType.BF16, Shape.of(2, 3), arena), x));
        assertTrue(dtype.getMessage().contains("gelu") && dtype.getMessage().contains("BF16[2, 3]"),
                dtype.getMessage());
    }

    @Test
    void logSoftmaxTopKOfKnownRows() {
        // Row 0: logits (2, 1, 2, 0.5, -1), token 0 banned twice, offset -0.5. Row 1: five equal logits, no ban.
        double total = 2 * Math.exp(2) + Math.exp(1) + Math.exp(0.5) + Math.exp(-1);
        double logTotal = Math.log(total);
        Tensor logits = floats(Shape.of(2, 5), 2, 1, 2, 0.5f, -1, 3, 3, 3, 3, 3);
        Tensor bans = Tensor.ofInts(Shape.of(2, 3), arena, 0, 0, -1, -1, 4, 4);
        Tensor offsets = floats(Shape.of(2), -0.5f, 0);
        TopK top = logSoftmaxTopK(logits, bans, -1, offsets, 3);
        // Ties go to the lower token: token 2 (the banned 0's equal) first, then 1 and 3; row 1 in token order.
        assertArrayEquals(new long[] {2, 1, 3, 0, 1, 2}, top.tokens().toLongArray());
        float[] logProbs = {(float) (2 - logTotal), (float) (1 - logTotal), (float) (0.5 - logTotal),
            (float) -Math.log(5), (float) -Math.log(5), (float) -Math.log(5)};
        assertArrayEquals(logProbs, top.logProbs().toFloatArray(), 1e-6f);
        float[] scores = logProbs.clone();
        for (int i = 0; i < 3; i++) {
            scores[i] += -0.5f;
        }
        assertArrayEquals(scores, top.scores().toFloatArray(), 1e-6f);
        // Row 0 kept all but exp(2) of the mass; row 1's list is empty (its first entry ends it).
        assertArrayEquals(new float[] {(float) Math.log((total - Math.exp(2)) / total), 0f},
                top.logSumExp().toFloatArray(), 1e-6f);
    }

    @Test
    void logSoftmaxTopKForcedTokenWinsOverItsBanAndLeavesNoOtherCandidate() {
        Tensor logits = floats(Shape.of(2, 4), 5, 1, 0, 0, 1, 2, 3, 4);
        Tensor bans = Tensor.ofInts(Shape.of(2, 1), arena, 1, 1);
        TopK top = logSoftmaxTopK(logits, bans, 1, floats(Shape.of(2), 0.25f, -2), 3);
        assertArrayEquals(new long[] {1, -1, -1, 1, -1, -1}, top.tokens().toLongArray());
        float inf = Float.NEGATIVE_INFINITY;
        assertArrayEquals(new float[] {0.25f, inf, inf, -2f, inf, inf}, top.scores().toFloatArray());
        assertArrayEquals(new float[] {0, inf, inf, 0, inf, inf}, top.logProbs().toFloatArray());
        assertArrayEquals(new float[] {0, 0}, top.logSumExp().toFloatArray());
    }

    @Test
    void logSoftmaxTopKOfAFullyBannedRowHasNoCandidate() {
        Tensor logits = floats(Shape.of(1, 3), 1, 2, Float.NEGATIVE_INFINITY);
        TopK top = logSoftmaxTopK(logits, Tensor.ofInts(Shape.of(1, 2), arena, 1, 0), -1, null, 2);
        assertArrayEquals(new long[] {-1, -1}, top.tokens().toLongArray());
        assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY}, top.logSumExp().toFloatArray());
    }

    /** The outputs of one {@link ReferenceBackend#logSoftmaxTopK} call. */
    private record TopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp) {}

    private TopK logSoftmaxTopK(Tensor logits, Tensor bans, int forcedToken, Tensor offsets, int k) {
        int rows = logits.shape().dim(0);
        TopK top = new TopK(zeros(rows, k), backend.allocate(DType.I32, Shape.of(rows, k), arena), zeros(rows, k),
                zeros(rows));
        backend.logSoftmaxTopK(top.scores(), top.tokens(), top.logProbs(), top.logSumExp(), logits, bans,
                forcedToken, offsets);
        return top;
    }

    @Test
    void outputOverlappingAnInputIsRejectedWhereNotAllowed() {
        Tensor x = floats(Shape.of(2, 2), 1, 2, 3, 4);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> backend.linear(x, x, floats(Shape.of(2, 2), 1, 0, 0, 1), null));
        assertTrue(error.getMessage().startsWith("linear: output"), error.getMessage());
    }

    @Test
    void useAfterCloseThrowsIllegalState() {
        Tensor x = floats(Shape.of(2), 1, 2);
        Tensor out = zeros(2);
        ReferenceBackend closed = new ReferenceBackend();
        closed.close();
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.gelu(out, x));
        assertThrows(IllegalStateException.class, () -> closed.allocate(DType.F32, Shape.of(1), arena));

        Tensor dead;
        try (Arena shortLived = Arena.ofConfined()) {
            dead = Tensor.ofFloats(Shape.of(2), shortLived, 1, 2);
        }
        assertThrows(IllegalStateException.class, () -> backend.gelu(out, dead));
        assertThrows(IllegalStateException.class, () -> backend.gelu(dead, x));
        assertThrows(IllegalStateException.class, () -> backend.upload(dead, DType.F32, arena));
    }
}
