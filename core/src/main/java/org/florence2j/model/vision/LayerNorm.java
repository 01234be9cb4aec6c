package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/** PyTorch's {@code nn.LayerNorm(channels)} as the reference's DaViT and image projection use it (eps 1e-5). */
final class LayerNorm {
    /** {@code nn.LayerNorm}'s default epsilon, which the reference never overrides. */
    static final float EPS = 1e-5f;

    private final Tensor weight; // [channels]
    private final Tensor bias;   // [channels]

    private LayerNorm(Tensor weight, Tensor bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** Loads {@code weight} and {@code bias} of shape {@code [channels]} under {@code w}. */
    static LayerNorm load(Weights w, int channels, Backend backend, Arena owner) {
        return new LayerNorm(Upload.f32(w, "weight", backend, owner, channels),
                Upload.f32(w, "bias", backend, owner, channels));
    }

    /** {@code out = layerNorm(x)} over the last dimension; {@code out} may alias {@code x}. */
    void forward(ForwardContext ctx, Tensor x, Tensor out) {
        ctx.backend().layerNorm(out, x, weight, bias, EPS);
    }
}
