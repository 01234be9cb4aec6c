package org.florence2j.backend.cpu;

import java.util.stream.Stream;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** selfAttention, attention (masks, KV cache, shared cross K/V) and channelAttention against the reference. */
class CpuAttentionTest {
    static Stream<Arguments> selfAttentionShapes() {
        // batch, tokens, channels, heads: a single token, odd sizes, one head, window-sized groups
        return Stream.of(Arguments.of(1, 1, 8, 2), Arguments.of(2, 13, 12, 3), Arguments.of(1, 9, 5, 1),
                Arguments.of(18, 144, 32, 4));
    }

    @ParameterizedTest
    @MethodSource("selfAttentionShapes")
    void selfAttentionMatchesReference(int batch, int tokens, int channels, int heads) {
        try (var t = new CpuVsReference(11)) {
            Tensor qkv = t.random(1, batch, tokens, 3 * channels);
            float scale = (float) Math.pow(channels / heads, -0.5);
            t.check("selfAttention", Tolerance.KERNEL_F32, new int[] {batch, tokens, channels},
                    (backend, o) -> backend.selfAttention(o, qkv, heads, scale));
        }
    }

    @Test
    void selfAttentionSplitsLargeBatchesIntoPasses() {
        // 4 heads · 144² scores · 4 bytes = 331 KB per window: 40 windows exceed one 2 MB pass.
        try (var t = new CpuVsReference(12)) {
            Tensor qkv = t.random(1, 40, 144, 3 * 8);
            t.check("selfAttention in passes", Tolerance.KERNEL_F32, new int[] {40, 144, 8},
                    (backend, o) -> backend.selfAttention(o, qkv, 4, 0.7f));
        }
    }

    @Test
    void oneGroupLargerThanAPassIsSplitByHeads() {
        // 3 heads · 480² scores · 4 bytes = 2.8 MB for one group, over one 2 MB pass (SCORES_CHUNK_BYTES): passes
        // of 2 heads and of 1, for each of 2 groups.
        try (var t = new CpuVsReference(14)) {
            Tensor qkv = t.random(1, 2, 480, 3 * 12);
            t.check("selfAttention by heads", Tolerance.KERNEL_F32, new int[] {2, 480, 12},
                    (backend, o) -> backend.selfAttention(o, qkv, 3, 0.5f));
            Tensor q = t.random(1, 1, 480, 12);
            Tensor k = t.random(1, 1, 480, 12);
            Tensor v = t.random(1, 1, 480, 12);
            t.check("causal attention by heads", Tolerance.KERNEL_F32, new int[] {1, 480, 12},
                    (backend, o) -> backend.attention(o, q, k, v, 480, 3, 0.5f, AttentionMask.causal(0)));
        }
    }

    static Stream<Arguments> attentionCases() {
        // batch, kvBatch, queryTokens, capacity, kvTokens, causal, pastTokens
        return Stream.of(
                Arguments.of(1, 1, 7, 7, 7, false, 0), // encoder-style self-attention
                Arguments.of(2, 2, 5, 9, 5, true, 0), // decoder prompt, cache partly filled
                Arguments.of(3, 3, 1, 20, 11, true, 10), // one decode step per beam
                Arguments.of(6, 2, 1, 13, 13, false, 0), // cross-attention: 3 beams share each image's K/V
                Arguments.of(4, 1, 2, 6, 6, true, 4));
    }

    @ParameterizedTest
    @MethodSource("attentionCases")
    void attentionMatchesReference(int batch, int kvBatch, int queryTokens, int capacity, int kvTokens,
            boolean causal, int pastTokens) {
        try (var t = new CpuVsReference(13)) {
            int channels = 12;
            Tensor q = t.random(1, batch, queryTokens, channels);
            Tensor k = t.random(1, kvBatch, capacity, channels);
            Tensor v = t.random(1, kvBatch, capacity, channels);
            AttentionMask mask = causal ? AttentionMask.causal(pastTokens) : AttentionMask.none();
            t.check("attention", Tolerance.KERNEL_F32, new int[] {batch, queryTokens, channels},
                    (backend, o) -> backend.attention(o, q, k, v, kvTokens, 3, 0.5f, mask));
        }
    }

    static Stream<Arguments> channelAttentionShapes() {
        return Stream.of(Arguments.of(1, 1, 8, 2), Arguments.of(2, 49, 24, 3), Arguments.of(1, 17, 7, 1));
    }

    @ParameterizedTest
    @MethodSource("channelAttentionShapes")
    void channelAttentionMatchesReference(int batch, int tokens, int channels, int groups) {
        try (var t = new CpuVsReference(14)) {
            Tensor qkv = t.random(1, batch, tokens, 3 * channels);
            float scale = (float) Math.pow(tokens, -0.5);
            t.check("channelAttention", Tolerance.KERNEL_F32, new int[] {batch, tokens, channels},
                    (backend, o) -> backend.channelAttention(o, qkv, groups, scale));
        }
    }
}
