package org.florence2j.backend.cpu;

import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code attention} in the BART decoder's call pattern, against the reference: one query token per row, issued step
 * after step on the same cache tensors while {@code kvTokens} grows from 1 (every step reuses or adds cached
 * primitives), for greedy (1 row) and beam search (3 beams of one or two images). Attention over one key (K == 1
 * in p·v, over strided K/V views) once read the wrong values whenever there was more than one K/V row: oneDNN
 * 3.13's brgemm matmul bug, which broke beam search from its first step.
 */
class CpuDecodeAttentionTest {
    private static final int CHANNELS = 64;
    private static final int HEADS = 4;
    private static final float SCALE = 0.25f;

    @ParameterizedTest(name = "{0} rows, capacity {1}")
    @CsvSource({"1, 12", "3, 12", "6, 5"})
    void causalSelfAttentionStepByStep(int rows, int capacity) {
        try (var t = new CpuVsReference(41)) {
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

    @ParameterizedTest(name = "{0} rows over {1} images, {2} of {3} encoder tokens")
    @CsvSource({"1, 1, 1, 64", "3, 1, 1, 64", "3, 1, 17, 64", "6, 2, 1, 8", "6, 2, 13, 64", "3, 1, 64, 64"})
    void crossAttentionSharedByBeams(int rows, int images, int kvTokens, int capacity) {
        try (var t = new CpuVsReference(42)) {
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

    @Test
    void selfAttentionOfSingleTokens() {
        try (var t = new CpuVsReference(43)) {
            Tensor qkv = t.random(1, 3, 1, 3 * CHANNELS);
            t.check("selfAttention of one token per row", Tolerance.KERNEL_F32, new int[] {3, 1, CHANNELS},
                    (backend, o) -> backend.selfAttention(o, qkv, HEADS, SCALE));
        }
    }
}
