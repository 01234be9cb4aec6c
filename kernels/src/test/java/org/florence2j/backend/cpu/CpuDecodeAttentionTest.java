package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code attention} in the BART decoder's call pattern, against the reference: one query token per row, issued step
 * after step on the same cache tensors while {@code kvTokens} grows from 1 (every step reuses or adds cached
 * primitives), for greedy (1 row) and beam search (3 beams of one or two images). Attention over one key (K == 1
 * in p·v, over strided K/V views) once read the wrong values whenever there was more than one K/V row: oneDNN
 * 3.13's brgemm matmul bug, which broke beam search from its first step. Cross-attention runs on transposed keys
 * and head-major values ({@code transposeKeys}, {@code headMajorValues}, {@code attentionTransposedKeys}), checked
 * the same way and against {@code attention}.
 */
class CpuDecodeAttentionTest {
    private static final int CHANNELS = 64;
    private static final int HEADS = 4;
    private static final float SCALE = 0.25f;

    @ParameterizedTest(name = "{0} rows, capacity {1}, on {2}")
    @CsvSource({"1, 12, TEAM", "3, 12, TEAM", "6, 5, TEAM", "3, 70, TEAM", "3, 12, CALLING_THREAD",
            "6, 5, CALLING_THREAD", "1, 12, PRIMITIVES", "3, 12, PRIMITIVES", "6, 5, PRIMITIVES", "3, 70, PRIMITIVES"})
    void causalSelfAttentionStepByStep(int rows, int capacity, Path path) {
        try (var t = onPath(41, path)) {
            Tensor keys = t.random(1, rows, capacity, CHANNELS);
            Tensor values = t.random(1, rows, capacity, CHANNELS);
            for (int position = 0; position < capacity; position++) {
                Tensor q = t.random(1, rows, 1, CHANNELS);
                int kvTokens = position + 1;
                AttentionMask mask = AttentionMask.causal(position);
                t.check("self-attention step " + position + " (kvTokens " + kvTokens + ", " + rows + " rows)",
                        Tolerance.KERNEL_F32, new int[] {rows, 1, CHANNELS},
                        (backend, o) -> backend.attention(o, q, keys, values, kvTokens, HEADS, SCALE, mask));
            }
        }
    }

    /**
     * Causal attention reads keys up to a bucket boundary (the extra ones are masked), so stepping through 64
     * positions creates the primitives of two buckets, not of 64 lengths; the cache rows past the filled ones hold
     * stale (random) values that must not leak into the result, which the reference comparison above checks.
     */
    @Test
    void causalStepsShareThePrimitivesOfABucket() {
        try (var t = onPath(46, Path.PRIMITIVES)) {
            int capacity = 2 * CpuBackend.CAUSAL_KEY_BUCKET;
            Tensor keys = t.random(1, 3, capacity, CHANNELS);
            Tensor values = t.random(1, 3, capacity, CHANNELS);
            Tensor q = t.random(1, 3, 1, CHANNELS);
            Tensor out = t.zeros(3, 1, CHANNELS);
            int before = t.cpu.cachedPrimitives();
            for (int position = 0; position < capacity; position++) {
                t.cpu.attention(out, q, keys, values, position + 1, HEADS, SCALE, AttentionMask.causal(position));
            }
            // Per bucket: the scores matmul, the softmax and the values matmul.
            assertEquals(2 * 3, t.cpu.cachedPrimitives() - before);
        }
    }

    @ParameterizedTest(name = "{0} rows over {1} images, {2} of {3} encoder tokens, on {4}")
    @CsvSource({"1, 1, 1, 64, TEAM", "3, 1, 1, 64, TEAM", "3, 1, 17, 64, TEAM", "6, 2, 1, 8, TEAM",
            "6, 2, 13, 64, TEAM", "3, 1, 64, 64, TEAM", "6, 2, 13, 64, CALLING_THREAD", "3, 1, 17, 64, PRIMITIVES",
            "6, 2, 13, 64, PRIMITIVES", "3, 1, 64, 64, PRIMITIVES"})
    void crossAttentionSharedByBeams(int rows, int images, int kvTokens, int capacity, Path path) {
        try (var t = onPath(42, path)) {
            Tensor keys = t.random(1, images, capacity, CHANNELS);
            Tensor values = t.random(1, images, capacity, CHANNELS);
            for (int step = 0; step < 3; step++) {
                Tensor q = t.random(1, rows, 1, CHANNELS);
                t.check("cross-attention step " + step + " (" + rows + " rows, kvBatch " + images + ", kvTokens "
                                + kvTokens + ")", Tolerance.KERNEL_F32, new int[] {rows, 1, CHANNELS},
                        (backend, o) -> backend.attention(o, q, keys, values, kvTokens, HEADS, SCALE,
                                AttentionMask.none()));
            }
        }
    }

    @ParameterizedTest(name = "{0} rows over {1} images, {2} of {3} encoder tokens, on {4}")
    @CsvSource({"1, 1, 1, 64, TEAM", "3, 1, 1, 64, TEAM", "3, 1, 17, 64, TEAM", "6, 2, 1, 8, TEAM",
            "6, 2, 13, 64, TEAM", "3, 1, 64, 64, TEAM", "3, 1, 577, 600, TEAM", "6, 2, 13, 64, CALLING_THREAD",
            "3, 1, 17, 64, PRIMITIVES", "6, 2, 13, 64, PRIMITIVES", "3, 1, 577, 600, PRIMITIVES"})
    void crossAttentionOnTransposedKeys(int rows, int images, int kvTokens, int capacity, Path path) {
        try (var t = onPath(44, path)) {
            Tensor keysT = t.random(1, images, CHANNELS, capacity);
            Tensor values = t.random(1, images, HEADS, capacity, CHANNELS / HEADS);
            for (int step = 0; step < 3; step++) {
                Tensor q = t.random(1, rows, 1, CHANNELS);
                t.check("transposed-key attention step " + step + " (" + rows + " rows, kvBatch " + images
                                + ", kvTokens " + kvTokens + ")", Tolerance.KERNEL_F32, new int[] {rows, 1, CHANNELS},
                        (backend, o) -> backend.attentionTransposedKeys(o, q, keysT, values, kvTokens, HEADS,
                                SCALE));
            }
        }
    }

    @ParameterizedTest(name = "{0} images, {1} tokens into capacity {2}, on {3}")
    @CsvSource({"1, 1, 8, TEAM", "1, 13, 13, TEAM", "2, 13, 64, TEAM", "1, 577, 600, TEAM",
            "2, 13, 64, PRIMITIVES", "1, 577, 600, PRIMITIVES"})
    void crossLayoutsMatchTheReferenceAndFeedTheSameAttention(int images, int tokens, int capacity, Path path) {
        try (var t = onPath(45, path)) {
            Tensor keys = t.random(1, images, tokens, CHANNELS);
            Tensor values = t.random(1, images, tokens, CHANNELS);
            t.check("transposeKeys (a copy: exact)", new Tolerance(0, 0), new int[] {images, CHANNELS, capacity},
                    (backend, keysT) -> backend.transposeKeys(keysT, keys));
            t.check("headMajorValues (a copy: exact)", new Tolerance(0, 0),
                    new int[] {images, HEADS, capacity, CHANNELS / HEADS},
                    (backend, valuesHM) -> backend.headMajorValues(valuesHM, values));
            Tensor keyRows = t.zeros(images, capacity, CHANNELS);
            Tensor valueRows = t.zeros(images, capacity, CHANNELS);
            for (int image = 0; image < images; image++) {
                for (long i = 0; i < (long) tokens * CHANNELS; i++) {
                    keyRows.setFloat((long) image * capacity * CHANNELS + i,
                            keys.getFloat((long) image * tokens * CHANNELS + i));
                    valueRows.setFloat((long) image * capacity * CHANNELS + i,
                            values.getFloat((long) image * tokens * CHANNELS + i));
                }
            }
            Tensor keysT = t.zeros(images, CHANNELS, capacity);
            Tensor valuesHM = t.zeros(images, HEADS, capacity, CHANNELS / HEADS);
            t.cpu.transposeKeys(keysT, keys);
            t.cpu.headMajorValues(valuesHM, values);
            Tensor q = t.random(1, 3 * images, 1, CHANNELS);
            Tensor byRows = t.zeros(3 * images, 1, CHANNELS);
            Tensor byColumns = t.zeros(3 * images, 1, CHANNELS);
            t.cpu.attention(byRows, q, keyRows, valueRows, tokens, HEADS, SCALE, AttentionMask.none());
            t.cpu.attentionTransposedKeys(byColumns, q, keysT, valuesHM, tokens, HEADS, SCALE);
            Tolerance.KERNEL_F32.assertClose("attention vs attentionTransposedKeys", byRows, byColumns);
        }
    }

    /**
     * Under {@link CpuBackend#SMALL_ATTENTION_BYTES} a decoder step's attention runs in Java and creates no
     * primitive; over it, the primitives run (both paths are checked against the reference above).
     */
    @Test
    void smallProblemsRunInJavaAndLargeOnesOnPrimitives() {
        try (var t = new CpuVsReference(47)) {
            Tensor keys = t.random(1, 3, 24, CHANNELS);
            Tensor values = t.random(1, 3, 24, CHANNELS);
            Tensor q = t.random(1, 3, 1, CHANNELS);
            Tensor out = t.zeros(3, 1, CHANNELS);
            int before = t.cpu.cachedPrimitives();
            t.cpu.attention(out, q, keys, values, 21, HEADS, SCALE, AttentionMask.causal(20));
            assertEquals(before, t.cpu.cachedPrimitives(), "a 3-beam step over 21 cached tokens");

            int capacity = (int) (CpuBackend.SMALL_ATTENTION_BYTES / (2L * 3 * CHANNELS * Float.BYTES)) + 1;
            Tensor keysT = t.random(1, 1, CHANNELS, capacity);
            Tensor valuesHM = t.random(1, 1, HEADS, capacity, CHANNELS / HEADS);
            t.cpu.attentionTransposedKeys(out, q, keysT, valuesHM, capacity, HEADS, SCALE);
            assertEquals(before + 3, t.cpu.cachedPrimitives(), "3 beams' cross-attention over " + capacity
                    + " tokens: the scores matmul, the softmax and the values matmul");
        }
    }

    /**
     * Over {@link CpuBackend#SMALL_ATTENTION_BYTES}, self-attention (each beam's row its own group) still runs in Java
     * where the team's threads may read the cache (a shared arena), on the primitives where they may not (a confined
     * arena); cross-attention (the beams' rows in one group) runs on the primitives. Both within the F32 tolerance of
     * the reference.
     */
    @ParameterizedTest(name = "shared arena: {0}")
    @ValueSource(booleans = {true, false})
    void largeSelfAttentionRunsOnTheTeamWhereItMayReadTheCache(boolean shared) {
        try (var t = new CpuVsReference(49, shared)) {
            int tokens = (int) (CpuBackend.SMALL_ATTENTION_BYTES / (2L * 3 * CHANNELS * Float.BYTES)) + 64;
            Tensor q = t.random(1, 3, 1, CHANNELS);
            Tensor imageKeys = t.random(1, 1, tokens, CHANNELS);
            Tensor imageValues = t.random(1, 1, tokens, CHANNELS);
            int before = t.cpu.cachedPrimitives();
            t.check("cross-attention of 3 beams over " + tokens + " tokens", Tolerance.KERNEL_F32,
                    new int[] {3, 1, CHANNELS}, (backend, o) -> backend.attention(o, q, imageKeys, imageValues,
                            tokens, HEADS, SCALE, AttentionMask.none()));
            assertEquals(3, t.cpu.cachedPrimitives() - before, "cross-attention: scores, softmax, values");

            Tensor keys = t.random(1, 3, tokens, CHANNELS);
            Tensor values = t.random(1, 3, tokens, CHANNELS);
            AttentionMask mask = AttentionMask.causal(tokens - 1);
            int afterCross = t.cpu.cachedPrimitives();
            t.check("self-attention over " + tokens + " cached tokens", Tolerance.KERNEL_F32,
                    new int[] {3, 1, CHANNELS},
                    (backend, o) -> backend.attention(o, q, keys, values, tokens, HEADS, SCALE, mask));
            int made = t.cpu.cachedPrimitives() - afterCross;
            if (shared && t.cpu.parallelTeam() > 1) {
                assertEquals(0, made, "self-attention on the team makes no primitive");
            } else {
                assertNotEquals(0, made, "self-attention the team may not read runs on primitives");
            }
        }
    }

    /**
     * With {@link CpuBackend#JAVA_DECODE_KERNELS_PROPERTY} false (as without the Vector API, in the CLI launcher's
     * JVM) a decoder step's attention, layer norm and add run on primitives; by default they create none.
     */
    @Test
    void thePropertyKeepsDecodeOpsOnPrimitives() {
        for (boolean javaKernels : new boolean[] {true, false}) {
            System.setProperty(CpuBackend.JAVA_DECODE_KERNELS_PROPERTY, Boolean.toString(javaKernels));
            try (var t = new CpuVsReference(48)) {
                Tensor keys = t.random(1, 3, 24, CHANNELS);
                Tensor values = t.random(1, 3, 24, CHANNELS);
                Tensor q = t.random(1, 3, 1, CHANNELS);
                Tensor weight = t.random(2, CHANNELS);
                Tensor out = t.zeros(3, 1, CHANNELS);
                int before = t.cpu.cachedPrimitives();
                t.cpu.attention(out, q, keys, values, 21, HEADS, SCALE, AttentionMask.causal(20));
                t.cpu.layerNorm(out, q, weight, weight, 1e-5f);
                t.cpu.add(out, out, weight);
                assertEquals(javaKernels ? 0 : 5, t.cpu.cachedPrimitives() - before,
                        "primitives made with Java decode kernels " + javaKernels
                                + " (attention: scores, softmax, values; layer norm; add)");
            } finally {
                System.clearProperty(CpuBackend.JAVA_DECODE_KERNELS_PROPERTY);
            }
        }
    }

    /**
     * Where a decoder step's attention runs: in Java on the OpenMP team's threads (the tensors in a shared arena), in
     * Java on the calling thread alone (in a confined arena, which the team's other threads may not read), or on
     * oneDNN's primitives.
     */
    enum Path { TEAM, CALLING_THREAD, PRIMITIVES }

    /** A backend whose attention takes {@code path}, whatever the size. */
    private static CpuVsReference onPath(long seed, Path path) {
        var t = new CpuVsReference(seed, path == Path.TEAM);
        t.cpu.smallAttentionBytes(path == Path.PRIMITIVES ? 0 : Long.MAX_VALUE);
        t.cpu.teamAttentionMinBytes(0);
        return t;
    }

    @Test
    void selfAttentionOfSingleTokens() {
        try (var t = new CpuVsReference(43)) {
            Tensor qkv = t.random(1, 3, 1, 3 * CHANNELS);
            t.check("selfAttention of one token per row", Tolerance.KERNEL_F32, new int[] {3, 1, CHANNELS},
                    (backend, o) -> backend.selfAttention(o, qkv, HEADS, SCALE));
        }
    }
}
