package org.florence2j.model.vision;

import org.florence2j.model.ForwardContext;
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
        // The normed input is dead once fn's first op has read it, so fn writes its branch over it (Sublayer).
        Tensor normed = scratch.view(VisionScratch.Slot.NORMED, x.shape()); // [batch, tokens, channels]
        norm.forward(ctx, x, normed);
        fn.forward(ctx, normed, normed, height, width, scratch);
        ctx.backend().add(out, x, normed);
    }
}
