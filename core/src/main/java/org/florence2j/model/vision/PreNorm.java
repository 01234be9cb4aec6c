package org.florence2j.model.vision;

import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The reference's {@code PreNorm(norm, fn)}: {@code out = x + fn(norm(x))} (drop path is identity at inference).
 * Input and output {@code [batch, height·width, channels]}.
 */
final class PreNorm {
    private final LayerNorm norm;
    private final Sublayer fn;

    PreNorm(LayerNorm norm, Sublayer fn) {
        this.norm = norm;
        this.fn = fn;
    }

    /** {@code out = x + fn(norm(x))}; {@code out} may alias {@code x}. */
    void forward(ForwardContext ctx, Tensor x, Tensor out, int height, int width, VisionScratch scratch) {
        // fn's first op is a matmul or feeds one, so the normed input goes in the matmul activation type (the
        // norm rounds it, not a pass of its own). It is dead once that op has read it, so fn writes its F32 branch
        // over it (Sublayer).
        Shape shape = x.shape(); // [batch, tokens, channels]
        Tensor normed = scratch.view(VisionScratch.Slot.NORMED, shape, ctx.backend().matmulActivationType());
        Tensor branch = scratch.view(VisionScratch.Slot.NORMED, shape);
        norm.forward(ctx, x, normed);
        fn.forward(ctx, normed, branch, height, width, scratch);
        ctx.backend().add(out, x, branch);
    }
}
