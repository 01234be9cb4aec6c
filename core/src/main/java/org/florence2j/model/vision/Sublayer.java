package org.florence2j.model.vision;

import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The {@code fn} of the reference's {@code PreNorm}: a map from {@code [batch, height·width, channels]} to the same
 * shape ({@link WindowAttention}, {@link ChannelAttention}, {@link Mlp}). The input comes in the backend's
 * {@code matmulActivationType} (each implementation's first op is a matmul or a window partition feeding one), the
 * output is F32.
 */
interface Sublayer {
    /**
     * {@code out = fn(in)}. {@code out} may share {@code in}'s memory: every implementation reads {@code in} only in
     * its first op and writes {@code out} only in its last ({@link PreNorm} relies on it to keep no buffer for the
     * branch).
     */
    void forward(ForwardContext ctx, Tensor in, Tensor out, int height, int width, VisionScratch scratch);
}
