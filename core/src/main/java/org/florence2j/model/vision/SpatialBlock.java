package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The reference's DaViT {@code SpatialBlock}: {@code x + dw(x)}, {@code x + WindowAttention(LN(x))},
 * {@code x + dw(x)}, {@code x + Mlp(LN(x))}. Input and output {@code [batch, height·width, channels]}.
 */
public final class SpatialBlock {
    private final DualBlockBody body;

    private SpatialBlock(DualBlockBody body) {
        this.body = body;
    }

    /**
     * Loads one spatial block from {@code w} (e.g. {@code vision_tower.blocks.<stage>.<i>.spatial_block}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or disagrees with the config
     */
    public static SpatialBlock load(Weights w, VisionConfig c, int stage, Backend backend, Arena owner) {
        WindowAttention windowAttn = WindowAttention.load(w.at("window_attn").at("fn"), c, stage, backend, owner);
        return new SpatialBlock(DualBlockBody.load(w, "window_attn", windowAttn, c, stage, backend, owner));
    }

    /**
     * Runs the block on {@code x} in place.
     *
     * @param x      {@code [batch, height·width, channels]}
     * @param second a map of {@code x}'s shape whose contents are dead, which the block overwrites
     */
    public void forward(ForwardContext ctx, Tensor x, Tensor second, int height, int width, VisionScratch scratch) {
        body.forward(ctx, x, second, height, width, scratch);
    }
}
