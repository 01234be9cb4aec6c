package org.florence2j.model.vision;

import java.util.EnumMap;
import java.util.Map;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The activation buffers of one {@link DaViT} forward pass for a given batch and image size, allocated once (see
 * {@link DaViT#newScratch}) and reused by every stage and block, so a pass allocates nothing per block (llm.c's
 * activation arena). Each slot is a flat F32 buffer sized for the largest stage; blocks take views of it.
 */
public final class VisionScratch {
    /** What a slot holds while a block runs. */
    enum Slot {
        /** Channel-last pixel values {@code [batch, height·width, 3]}. */
        PIXELS,
        /** A stage's activations, even stages. */
        STAGE_EVEN,
        /** A stage's activations, odd stages. */
        STAGE_ODD,
        /** Between a stage's spatial and channel block. */
        MID,
        /** LayerNormed input of a sub-layer. */
        NORMED,
        /** A sub-layer's output before its residual add. */
        BRANCH,
        /** Output of a block's second depthwise conv. */
        RESIDUAL,
        /** Packed q, k, v (windowed for window attention). */
        QKV,
        /** Padded windows, then their projected attention. */
        WINDOWS,
        /** Attention output before its projection. */
        ATTENTION,
        /** The MLP's hidden activations. */
        HIDDEN
    }

    private final Map<Slot, Tensor> buffers = new EnumMap<>(Slot.class); // each [capacity], F32

    VisionScratch(ForwardContext ctx, Map<Slot, Long> elementCounts) {
        for (Map.Entry<Slot, Long> entry : elementCounts.entrySet()) {
            buffers.put(entry.getKey(), ctx.allocate(Shape.of(Math.toIntExact(entry.getValue()))));
        }
    }

    /** The first {@code shape.elementCount()} elements of {@code slot}, seen with {@code shape}. */
    Tensor view(Slot slot, Shape shape) {
        Tensor flat = buffers.get(slot);
        if (flat == null || shape.elementCount() > flat.elementCount()) {
            throw new IllegalArgumentException("vision scratch slot " + slot + " holds "
                    + (flat == null ? 0 : flat.elementCount()) + " elements, " + shape + " needs more: the scratch "
                    + "was made for a smaller batch or image");
        }
        return flat.narrow(0, (int) shape.elementCount()).reshape(shape);
    }
}
