package org.florence2j.model.vision;

import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The reference's {@code PreNorm(norm, fn)}: {@code x + fn(norm(x))} (drop path is identity at inference).
 * Input and output {@code [batch, height·width, channels]}.
 */
final class PreNorm {
    private final LayerNorm norm;
    private final Sublayer fn;

    PreNorm(LayerNorm norm, Sublayer fn) {
        this.norm = norm;
        this.fn = fn;
    }

    /**
     * {@code x += fn(norm(x))}, in place. The normed input goes in {@code free}: F32 memory at least as large as
     * {@code x} that nothing reads while this runs (the block's other map), so no slot of its own holds it.
     */
    void forward(ForwardContext ctx, Tensor x, Tensor free, int height, int width, VisionScratch scratch) {
        // fn's first op is a matmul or feeds one, so the normed input goes in the matmul activation type (the
        // norm rounds it, not a pass of its own); fn's last projection adds its result to x (Sublayer).
        Tensor normed = VisionScratch.viewAs(free, x.shape(), ctx.backend().matmulActivationType());
        norm.forward(ctx, x, normed);
        fn.forward(ctx, normed, x, height, width, scratch);
    }
}
