package org.florence2j.bench.model;

import org.florence2j.config.VisionConfig;

/**
 * Floating-point operations of the DaViT vision tower plus the image projection, counted from the config: every
 * matmul and convolution at 2 FLOPs per multiply-add; normalisation, softmax, GELU, pooling and adds are left out
 * (they are memory-bound and small next to the products), so GFLOP/s from this count is matmul throughput.
 *
 * <p>Per stage of width {@code C} on an {@code H × W} map ({@code N = H·W} tokens, {@code Np} after padding to the
 * window): the patch-embedding conv; per spatial block two depthwise 3×3 convs ({@code 2·9·N·C} each), the qkv and
 * output projections over the padded windows ({@code 2·Np·C·4C}), window attention {@code q·kᵀ} and
 * {@code attn·v} ({@code 4·Np·window²·C}) and the MLP ({@code 16·N·C²}); per channel block the same convs,
 * projections over {@code N}, channel attention {@code 4·N·C·C/groups} and the MLP. The projection is
 * {@code 2·tokens·lastDim·projectionDim} over the {@code 1 + h·w} pooled tokens.
 */
public final class FlopCount {
    private FlopCount() {}

    /** FLOPs of one image of side {@code imageSide} through the tower and the projection to {@code projectionDim}. */
    public static long visionTower(VisionConfig c, int projectionDim, int imageSide) {
        long flops = 0;
        long side = imageSide;
        long inChannels = 3;
        int window = c.windowSize();
        for (int stage = 0; stage < c.stages(); stage++) {
            long dim = c.dimEmbed().get(stage);
            int kernel = c.patchSize().get(stage);
            side = (side + 2L * c.patchPadding().get(stage) - kernel) / c.patchStride().get(stage) + 1;
            long tokens = side * side;
            flops += 2 * tokens * dim * inChannels * kernel * kernel;
            long paddedSide = (side + window - 1) / window * window;
            long paddedTokens = paddedSide * paddedSide;
            long depthwise = 2 * 2 * 9 * tokens * dim;
            long mlp = 2 * 2 * tokens * dim * c.mlpHidden(stage);
            long spatial = depthwise + 2 * paddedTokens * dim * 4 * dim + 4 * paddedTokens * window * window * dim
                    + mlp;
            long channel = depthwise + 2 * tokens * dim * 4 * dim
                    + 4 * tokens * dim * (dim / c.numGroups().get(stage)) + mlp;
            flops += c.depths().get(stage) * (spatial + channel);
            inChannels = dim;
        }
        long imageTokens = 1 + side * side;
        return flops + 2 * imageTokens * c.lastDim() * projectionDim;
    }
}
