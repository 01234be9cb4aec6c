package org.florence2j.backend.ref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.florence2j.backend.AttentionMask;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pins the attention, windowing and convolution ops of {@link ReferenceBackend} to hand-computed values and to
 * naive transcriptions of the reference equations ({@code modeling_florence2.py}).
 */
class ReferenceVisionOpsTest {
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

    private static float[] random(long seed, int count) {
        Random random = new Random(seed);
        float[] values = new float[count];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    @Test
    void windowPartitionPadsRightAndBottomWithZeros() {
        // A 5 × 7 map of token numbers 1..35, window 4: padded to 8 × 8, four windows row by row.
        float[] map = new float[35];
        for (int i = 0; i < map.length; i++) {
            map[i] = i + 1;
        }
        Tensor x = floats(Shape.of(1, 35, 1), map);
        Tensor windows = zeros(4, 16, 1);
        backend.windowPartition(windows, x, 5, 7, 4);
        float[] expected = {
            1, 2, 3, 4, 8, 9, 10, 11, 15, 16, 17, 18, 22, 23, 24, 25, // rows 0-3, columns 0-3
            5, 6, 7, 0, 12, 13, 14, 0, 19, 20, 21, 0, 26, 27, 28, 0, // rows 0-3, columns 4-7: column 7 padded
            29, 30, 31, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rows 4-7, columns 0-3: rows 5-7 padded
            33, 34, 35, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rows 4-7, columns 4-7
        };
        assertArrayEquals(expected, windows.toFloatArray(), 0);

        Tensor back = zeros(1, 35, 1);
        backend.windowReverse(back, windows, 5, 7, 4);
        assertArrayEquals(map, back.toFloatArray(), 0);
    }

    @Test
    void windowRoundTripWithBatchAndChannels() {
        float[] map = random(1, 2 * 35 * 3);
        Tensor x = floats(Shape.of(2, 35, 3), map);
        Tensor windows = zeros(8, 16, 3);
        backend.windowPartition(windows, x, 5, 7, 4);
        // Batch 1's first window starts at window index 4 and holds map token (0, 0) of batch 1.
        float[] cut = windows.toFloatArray();
        assertArrayEquals(new float[] {map[105], map[106], map[107]}, new float[] {cut[4 * 48], cut[4 * 48 + 1],
            cut[4 * 48 + 2]}, 0);
        Tensor back = zeros(2, 35, 3);
        backend.windowReverse(back, windows, 5, 7, 4);
        assertArrayEquals(map, back.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> backend.windowPartition(zeros(4, 16, 3), x, 5, 7, 4));
    }

    @Test
    void channelAttentionHandComputed() {
        // One token, channels 2, scale 1: attn[i, j] = q_i·k_j. q = (1, 0), k = (0, ln 3), v = (4, 8):
        // row 0 softmax(0, ln 3) = (1/4, 3/4) → 1 + 6 = 7; row 1 softmax(0, 0) = (1/2, 1/2) → 6.
        Tensor qkv = floats(Shape.of(1, 1, 6), 1, 0, 0, (float) Math.log(3), 4, 8);
        Tensor out = zeros(1, 1, 2);
        backend.channelAttention(out, qkv, 1, 1f);
        assertArrayEquals(new float[] {7, 6}, out.toFloatArray(), 1e-6f);
        // Two groups of one channel each: every attention matrix is 1 × 1, so out = v.
        backend.channelAttention(out, qkv, 2, 1f);
        assertArrayEquals(new float[] {4, 8}, out.toFloatArray(), 1e-6f);
    }

    @Test
    void channelAttentionMatchesReferenceEquations() {
        int batch = 2;
        int tokens = 3;
        int channels = 4;
        int groups = 2;
        int groupChannels = channels / groups;
        float scale = (float) Math.pow(tokens, -0.5);
        float[] packed = random(2, batch * tokens * 3 * channels);
        // qkv.reshape(B, N, 3, groups, Cg).permute(2, 0, 3, 1, 4) → q, k, v of shape [B, groups, N, Cg].
        double[][][][][] parts = new double[3][batch][groups][tokens][groupChannels];
        for (int b = 0; b < batch; b++) {
            for (int n = 0; n < tokens; n++) {
                for (int part = 0; part < 3; part++) {
                    for (int g = 0; g < groups; g++) {
                        for (int c = 0; c < groupChannels; c++) {
                            parts[part][b][g][n][c] = packed[(((b * tokens + n) * 3 + part) * groups + g)
                                    * groupChannels + c];
                        }
                    }
                }
            }
        }
        float[] expected = new float[batch * tokens * channels];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                double[][] q = parts[0][b][g];
                double[][] k = parts[1][b][g];
                double[][] v = parts[2][b][g];
                // attention = (q · scale)ᵀ @ k, softmax over the last dimension: [Cg, Cg].
                double[][] attention = new double[groupChannels][groupChannels];
                for (int i = 0; i < groupChannels; i++) {
                    double total = 0;
                    for (int j = 0; j < groupChannels; j++) {
                        double dot = 0;
                        for (int n = 0; n < tokens; n++) {
                            dot += q[n][i] * scale * k[n][j];
                        }
                        attention[i][j] = Math.exp(dot);
                        total += attention[i][j];
                    }
                    for (int j = 0; j < groupChannels; j++) {
                        attention[i][j] /= total;
                    }
                }
                // x = (attention @ vᵀ)ᵀ: [N, Cg]; then transpose(1, 2).reshape(B, N, C) puts groups side by side.
                for (int n = 0; n < tokens; n++) {
                    for (int i = 0; i < groupChannels; i++) {
                        double sum = 0;
                        for (int j = 0; j < groupChannels; j++) {
                            sum += attention[i][j] * v[n][j];
                        }
                        expected[(b * tokens + n) * channels + g * groupChannels + i] = (float) sum;
                    }
                }
            }
        }
        Tensor out = zeros(batch, tokens, channels);
        backend.channelAttention(out, floats(Shape.of(batch, tokens, 3 * channels), packed), groups, scale);
        assertArrayEquals(expected, out.toFloatArray(), 1e-6f);
    }

    @Test
    void selfAttentionHandComputedAndHeadLayout() {
        // One head of one channel: t0 (q 1, k 0, v 1), t1 (q 0, k ln 3, v 5). t0 sees scores (0, ln 3) →
        // (1/4, 3/4) → 1/4 + 15/4 = 4; t1 sees (0, 0) → 3.
        Tensor qkv = floats(Shape.of(1, 2, 3), 1, 0, 1, 0, (float) Math.log(3), 5);
        Tensor out = zeros(1, 2, 1);
        backend.selfAttention(out, qkv, 1, 1f);
        assertArrayEquals(new float[] {4, 3}, out.toFloatArray(), 1e-6f);

        // Two heads of one channel: head 0 is the case above; head 1 has q = 0, so uniform weights over v (2, 6).
        Tensor twoHeads = floats(Shape.of(1, 2, 6), 1, 0, 0, 0, 1, 2, 0, 0, (float) Math.log(3), 0, 5, 6);
        Tensor out2 = zeros(1, 2, 2);
        backend.selfAttention(out2, twoHeads, 2, 1f);
        assertArrayEquals(new float[] {4, 4, 3, 4}, out2.toFloatArray(), 1e-6f);
    }

    @Test
    void attentionBroadcastsKvBatchAndAppliesCausalMask() {
        // Keys all zero, so visible keys get equal weight and out = mean of the visible values. Row 3 of the
        // cache is beyond kvTokens and must never be read.
        Tensor k = zeros(2, 4, 1);
        Tensor v = floats(Shape.of(2, 4, 1), 1, 2, 3, 1000, 10, 20, 30, 1000);
        Tensor q = floats(Shape.of(4, 2, 1), 1, 2, 3, 4, 5, 6, 7, 8);
        Tensor out = zeros(4, 2, 1);
        backend.attention(out, q, k, v, 3, 1, 1f, AttentionMask.none());
        // Batch 4 over kvBatch 2: rows 0 and 1 use cache row 0, rows 2 and 3 use cache row 1.
        assertArrayEquals(new float[] {2, 2, 2, 2, 20, 20, 20, 20}, out.toFloatArray(), 1e-5f);

        // Causal with one earlier position: query 0 is position 1 (keys 0..1), query 1 is position 2 (keys 0..2).
        backend.attention(out, q, k, v, 3, 1, 1f, AttentionMask.causal(1));
        assertArrayEquals(new float[] {1.5f, 2, 1.5f, 2, 15, 20, 15, 20}, out.toFloatArray(), 1e-5f);

        // A query whose position is not yet in the cache is a caller bug.
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> backend.attention(out, q, k, v, 3, 1, 1f, AttentionMask.causal(2)));
        assertTrue(error.getMessage().startsWith("attention:"), error.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> backend.attention(zeros(3, 2, 1), zeros(3, 2, 1), k, v, 3, 1, 1f, AttentionMask.none()));
    }

    @Test
    void attentionScoresUseScaleAndSeparateHeads() {
        // Two heads of one channel, one query, two keys. Head 0: q 1, keys (0, 1), scale ln 3 → weights
        // (1/4, 3/4) over v (0, 4) → 3. Head 1: q 0 → uniform over v (2, 6) → 4.
        Tensor q = floats(Shape.of(1, 1, 2), 1, 0);
        Tensor k = floats(Shape.of(1, 2, 2), 0, 9, 1, 9);
        Tensor v = floats(Shape.of(1, 2, 2), 0, 2, 4, 6);
        Tensor out = zeros(1, 1, 2);
        backend.attention(out, q, k, v, 2, 2, (float) Math.log(3), AttentionMask.none());
        assertArrayEquals(new float[] {3, 4}, out.toFloatArray(), 1e-6f);
    }

    @Test
    void conv2dStrideTwoPaddingOne() {
        // 3 × 3 map, in channel 0 = 1..9, in channel 1 = 10·(1..9); kernel 3, stride 2, padding 1 → 2 × 2 centred
        // on input (0, 0), (0, 2), (2, 0), (2, 2).
        float[] x = new float[18];
        for (int t = 0; t < 9; t++) {
            x[2 * t] = t + 1;
            x[2 * t + 1] = 10 * (t + 1);
        }
        float[] weight = new float[3 * 2 * 9]; // [out 3, in 2, 3, 3]
        for (int i = 0; i < 9; i++) {
            weight[i] = 1; // out 0: sums in channel 0 over the window
        }
        weight[(1 * 2 + 1) * 9 + 4] = 1; // out 1: centre of in channel 1
        weight[(2 * 2) * 9 + 2] = 1; // out 2: in channel 0 at (ky 0, kx 2), i.e. up one row, right one column
        Tensor out = zeros(1, 4, 3);
        backend.conv2d(out, floats(Shape.of(1, 9, 2), x), 3, 3, floats(Shape.of(3, 2, 3, 3), weight),
                floats(Shape.of(3), 0, 0.5f, 0), 2, 1);
        assertArrayEquals(new float[] {
            12, 10.5f, 0, // (0, 0): 1 + 2 + 4 + 5; centre 10; (-1, 1) is padding
            16, 30.5f, 0, // (0, 1): 2 + 3 + 5 + 6; centre 30
            24, 70.5f, 5, // (1, 0): 4 + 5 + 7 + 8; centre 70; (1, 1) = 5
            28, 90.5f, 0, // (1, 1): 5 + 6 + 8 + 9; centre 90; (1, 3) is padding
        }, out.toFloatArray(), 0);
    }

    @Test
    void depthwiseConvAddsItsInputBack() {
        // 2 × 2 map, channel 0 = (1, 2, 3, 4) with an all-ones filter: every 3 × 3 neighbourhood covers the whole
        // map, so 10 + x. Channel 1 = (10, 20, 30, 40) with the left-neighbour tap (ky 1, kx 0) and bias 1.
        Tensor x = floats(Shape.of(1, 4, 2), 1, 10, 2, 20, 3, 30, 4, 40);
        float[] weight = new float[18];
        for (int i = 0; i < 9; i++) {
            weight[i] = 1;
        }
        weight[9 + 3] = 1;
        Tensor out = zeros(1, 4, 2);
        backend.depthwiseConv3x3Residual(out, x, 2, 2, floats(Shape.of(2, 1, 3, 3), weight),
                floats(Shape.of(2), 0, 1));
        assertArrayEquals(new float[] {11, 11, 12, 31, 13, 31, 14, 71}, out.toFloatArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> backend.depthwiseConv3x3Residual(x, x, 2, 2,
                floats(Shape.of(2, 1, 3, 3), weight), floats(Shape.of(2), 0, 1)));
    }
}
