package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The blocks' {@code conv1}/{@code conv2}: the reference's {@code PreNorm(None, DepthWiseConv2d(dim, 3, 1, 1))}, a
 * depthwise 3×3 convolution with no norm whose input is added back ({@code out = x + dw(x)}).
 * Input and output {@code [batch, height·width, channels]}.
 */
final class DepthWiseConv2d {
    private final Tensor weight; // [channels, 1, 3, 3]
    private final Tensor bias;   // [channels]

    private DepthWiseConv2d(Tensor weight, Tensor bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** Loads {@code fn.dw.weight} and {@code fn.dw.bias} under {@code w} (e.g. {@code ...spatial_block.conv1}). */
    static DepthWiseConv2d load(Weights w, int channels, Backend backend, Arena owner) {
        Weights dw = w.at("fn").at("dw");
        return new DepthWiseConv2d(Upload.convWeight(dw, backend, owner, channels, 1, 3, 3),
                Upload.f32(dw, "bias", backend, owner, channels));
    }

    /** {@code out = in + dw(in)}; {@code out} must not alias {@code in}. */
    void forward(ForwardContext ctx, Tensor in, Tensor out, int height, int width) {
        ctx.backend().depthwiseConv3x3Residual(out, in, height, width, weight, bias);
    }
}
