package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The reference's DaViT {@code WindowAttention}: multi-head self-attention inside non-overlapping
 * {@code window_size × window_size} windows. Input and output {@code [batch, height·width, channels]}.
 */
public final class WindowAttention implements Sublayer {
    private final Tensor qkvWeight;  // [3·channels, channels]
    private final Tensor qkvBias;    // [3·channels], or null without qkv_bias
    private final Tensor projWeight; // [channels, channels]
    private final Tensor projBias;   // [channels]
    private final int heads;
    private final int window;
    private final float scale;

    private WindowAttention(Tensor qkvWeight, Tensor qkvBias, Tensor projWeight, Tensor projBias, int heads,
            int window, float scale) {
        this.qkvWeight = qkvWeight;
        this.qkvBias = qkvBias;
        this.projWeight = projWeight;
        this.projBias = projBias;
        this.heads = heads;
        this.window = window;
        this.scale = scale;
    }

    /**
     * Loads {@code qkv.*} and {@code proj.*} under {@code w} (a spatial block's {@code window_attn.fn}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or disagrees with the config
     */
    public static WindowAttention load(Weights w, VisionConfig c, int stage, Backend backend, Arena owner) {
        int channels = c.dimEmbed().get(stage);
        int heads = c.numHeads().get(stage);
        return new WindowAttention(
                Upload.linearWeight(w.at("qkv"), backend, owner, 3 * channels, channels),
                c.qkvBias() ? Upload.f32(w.at("qkv"), "bias", backend, owner, 3 * channels) : null,
                Upload.linearWeight(w.at("proj"), backend, owner, channels, channels),
                Upload.f32(w.at("proj"), "bias", backend, owner, channels),
                heads, c.windowSize(), (float) Math.pow(channels / heads, -0.5));
    }

    /** Number of windows across {@code size} once padded up to a multiple of the window. */
    static int windowsAcross(int size, int window) {
        return (size + window - 1) / window;
    }

    /**
     * {@code residual += attention within windows of in}; both {@code [batch, height·width, channels]}. Runs one band
     * of windows (a window's height of map rows, contiguous in both layouts) at a time, so its buffers hold one band,
     * not the whole map.
     */
    @Override
    public void forward(ForwardContext ctx, Tensor in, Tensor residual, int height, int width,
            VisionScratch scratch) {
        Backend backend = ctx.backend();
        int channels = in.shape().last();
        int across = windowsAcross(width, window);
        Shape windowed = Shape.of(across, window * window, channels); // one band's windows
        // The windows, q/k/v and the heads' output only pass between matmuls: kept in the backend's matmul activation
        // type, like the input. Each buffer is reused once dead: the heads' output goes over the windows (read by the
        // q/k/v projection), and back in token order over q/k/v (read by the attention). The projection is per token,
        // so it runs after the reverse, which lets it add straight into the residual stream.
        DType between = backend.matmulActivationType();
        Tensor windows = scratch.view(VisionScratch.Slot.WINDOWS, windowed, between);
        Tensor qkv = scratch.view(VisionScratch.Slot.QKV, windowed.withDim(-1, 3 * channels), between);
        Tensor attended = windows;
        for (int image = 0; image < in.shape().dim(0); image++) {
            Tensor map = in.narrow(image, 1).reshape(Shape.of(height * width, channels));
            Tensor stream = residual.narrow(image, 1).reshape(Shape.of(height * width, channels));
            for (int top = 0; top < height; top += window) {
                int rows = Math.min(window, height - top);
                Shape band = Shape.of(1, rows * width, channels);
                Tensor tokens = scratch.view(VisionScratch.Slot.QKV, band, between);
                // WindowAttention zero-pads the normed map to whole windows; padded tokens attend unmasked, then are
                // cropped.
                backend.windowPartition(windows, map.narrow(top * width, rows * width).reshape(band), rows, width,
                        window);
                backend.linear(qkv, windows, qkvWeight, qkvBias);
                backend.selfAttention(attended, qkv, heads, scale);
                backend.windowReverse(tokens, attended, rows, width, window);
                backend.linearResidual(stream.narrow(top * width, rows * width).reshape(band), tokens, projWeight,
                        projBias);
            }
        }
    }
}
