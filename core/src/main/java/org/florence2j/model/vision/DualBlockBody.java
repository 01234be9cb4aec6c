package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * What the reference's {@code SpatialBlock} and {@code ChannelBlock} share (they differ only in their attention):
 * {@code conv1} (residual depthwise conv), the pre-normed attention, {@code conv2} (residual depthwise conv) and the
 * pre-normed {@code ffn}. Input and output {@code [batch, height·width, channels]}.
 */
final class DualBlockBody {
    private final DepthWiseConv2d conv1;
    private final PreNorm attention;
    private final DepthWiseConv2d conv2;
    private final PreNorm ffn;

    private DualBlockBody(DepthWiseConv2d conv1, PreNorm attention, DepthWiseConv2d conv2, PreNorm ffn) {
        this.conv1 = conv1;
        this.attention = attention;
        this.conv2 = conv2;
        this.ffn = ffn;
    }

    /**
     * Loads the shared parts under {@code w}; {@code attentionName} is the attention's weight segment
     * ({@code window_attn} or {@code channel_attn}), whose {@code norm} is read here and whose {@code fn} is
     * {@code attentionFn}.
     */
    static DualBlockBody load(Weights w, String attentionName, Sublayer attentionFn, VisionConfig c, int stage,
            Backend backend, Arena owner) {
        int channels = c.dimEmbed().get(stage);
        return new DualBlockBody(
                DepthWiseConv2d.load(w.at("conv1"), channels, backend, owner),
                new PreNorm(LayerNorm.load(w.at(attentionName).at("norm"), channels, backend, owner), attentionFn),
                DepthWiseConv2d.load(w.at("conv2"), channels, backend, owner),
                new PreNorm(LayerNorm.load(w.at("ffn").at("norm"), channels, backend, owner),
                        Mlp.load(w.at("ffn").at("fn"), c, stage, backend, owner)));
    }

    /**
     * Runs the block on {@code x} in place. The depthwise convs read neighbours, so they cannot: each writes the
     * other of {@code x} and {@code second} (a map of {@code x}'s shape whose contents are dead), and the pre-normed
     * sub-layers work in place after them, each with its normed input in the map it does not work on (dead until
     * the next conv overwrites it).
     */
    void forward(ForwardContext ctx, Tensor x, Tensor second, int height, int width, VisionScratch scratch) {
        conv1.forward(ctx, x, second, height, width);
        attention.forward(ctx, second, x, height, width, scratch);
        conv2.forward(ctx, second, x, height, width);
        ffn.forward(ctx, x, second, height, width, scratch);
    }
}
