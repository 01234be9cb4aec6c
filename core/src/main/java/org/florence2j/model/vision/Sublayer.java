package org.florence2j.model.vision;

import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The {@code fn} of the reference's {@code PreNorm}: a map from {@code [batch, height·width, channels]} to the same
 * shape ({@link WindowAttention}, {@link ChannelAttention}, {@link Mlp}), whose result is added to the residual
 * stream by its last projection ({@code Backend.linearResidual}). The input comes in the backend's
 * {@code matmulActivationType} (each implementation's first op is a matmul or a window partition feeding one).
 */
interface Sublayer {
    /** {@code residual += fn(in)}; {@code residual} is F32 and does not overlap {@code in}. */
    void forward(ForwardContext ctx, Tensor in, Tensor residual, int height, int width, VisionScratch scratch);
}
