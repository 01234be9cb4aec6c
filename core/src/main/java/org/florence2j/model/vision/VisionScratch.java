package org.florence2j.model.vision;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The activation buffers of one {@link DaViT} forward pass for a given batch and image size, allocated once (see
 * {@link DaViT#newScratch}) and reused by every stage and block, so a pass allocates nothing per block (llm.c's
 * activation arena). Each slot is a flat F32 buffer sized for the largest stage; blocks take views of it.
 *
 * <p>Slots are few and small because buffers are reused as soon as they die and the big ones are worked through in
 * pieces: two maps serve every stage (a stage's convolution reads one and writes the other, and its blocks then use the
 * one it read as their second map), blocks work in place on their stage's map, a sub-layer's normed input goes in
 * whichever of the two maps it does not work on, its last projection adds into the other, window attention holds one
 * band of windows at a time and the MLP a chunk of tokens, and the attention sub-layers' slots ({@code WINDOWS},
 * {@code QKV}) and the MLP's {@code HIDDEN} are never live together (a block runs one sub-layer at a time), so they
 * share one buffer: the attention slots one after another, {@code HIDDEN} from its start. The largest slots may be
 * placed in memory a caller lends (a session's text scratch). Memory matters most in bf16 mode, where the weights are
 * half as big: on base at 768×768 the scratch is 67 MB in bf16, 95 MB in f32.
 */
public final class VisionScratch {
    /** What a slot holds while a block runs. */
    enum Slot {
        /** Even stages' activations, and odd stages' blocks' second map. */
        STAGE_EVEN,
        /**
         * The channel-last pixel values {@code [batch, height·width, 3]}, then odd stages' activations and even
         * stages' blocks' second map.
         */
        STAGE_ODD,
        /**
         * Packed q, k, v (one band of windows for window attention), then that band's output in token order; before
         * a stage, its patch embedding's pre-normed input (the previous stage's map, or with the native code's stage-0
         * pre-norm the image).
         */
        QKV,
        /** One band of padded windows, then window attention's output before its projection. */
        WINDOWS,
        /** The MLP's hidden activations of as many tokens as fit (it runs in chunks of tokens). */
        HIDDEN
    }

    private final Map<Slot, Tensor> buffers = new EnumMap<>(Slot.class); // each [capacity], F32

    private static final List<Slot> ATTENTION_SLOTS = List.of(Slot.WINDOWS, Slot.QKV);

    /**
     * @param lent F32 memory to place slots in before allocating any, or {@code null} (see
     *             {@link DaViT#newScratch(ForwardContext, int, int, int, Tensor)})
     */
    VisionScratch(ForwardContext ctx, Map<Slot, Long> elementCounts, Tensor lent) {
        // Placed largest first so that the lent memory takes the big ones.
        Map<Slot, Long> sizes = bufferSizes(elementCounts);
        LentMemory memory = new LentMemory(ctx, lent);
        sizes.entrySet().stream().sorted(Map.Entry.<Slot, Long>comparingByValue().reversed())
                .forEach(entry -> buffers.put(entry.getKey(), memory.take(entry.getValue())));
        long offset = 0;
        for (Slot slot : ATTENTION_SLOTS) {
            int elements = Math.toIntExact(elementCounts.getOrDefault(slot, 0L));
            if (elements > 0) {
                buffers.put(slot, buffers.get(Slot.HIDDEN).narrow(Math.toIntExact(offset), elements));
                offset += elements;
            }
        }
    }

    /** The F32 elements of the buffers {@code elementCounts} needs (what lent memory must hold to take them all). */
    static long totalElements(Map<Slot, Long> elementCounts) {
        return bufferSizes(elementCounts).values().stream().mapToLong(Long::longValue).sum();
    }

    /** One buffer per slot, except that HIDDEN's is the one the attention slots share. */
    private static Map<Slot, Long> bufferSizes(Map<Slot, Long> elementCounts) {
        long attentionElements = 0;
        for (Slot slot : ATTENTION_SLOTS) {
            attentionElements += elementCounts.getOrDefault(slot, 0L);
        }
        long shared = Math.max(attentionElements, elementCounts.getOrDefault(Slot.HIDDEN, 0L));
        Map<Slot, Long> sizes = new EnumMap<>(Slot.class);
        elementCounts.forEach((slot, elements) -> {
            if (!ATTENTION_SLOTS.contains(slot)) {
                sizes.put(slot, elements);
            }
        });
        if (shared > 0) {
            sizes.put(Slot.HIDDEN, shared);
        }
        return sizes;
    }

    /** Hands out pieces of lent memory while they fit, then allocates. */
    private static final class LentMemory {
        private final ForwardContext ctx;
        private final Tensor lent; // F32 [elements], or null
        private long used;

        LentMemory(ForwardContext ctx, Tensor lent) {
            this.ctx = ctx;
            this.lent = lent;
        }

        Tensor take(long elements) {
            int count = Math.toIntExact(elements);
            if (lent != null && elements <= lent.elementCount() - used) {
                Tensor piece = lent.narrow(Math.toIntExact(used), count);
                used += elements;
                return piece;
            }
            return ctx.allocate(Shape.of(count));
        }
    }

    /** How many rows of {@code rowElements} values of {@code dtype} fit in {@code slot} (at least 1 is required). */
    int rowsFitting(Slot slot, int rowElements, DType dtype) {
        Tensor flat = buffers.get(slot);
        long rows = flat == null ? 0 : flat.byteSize() / ((long) rowElements * dtype.byteSize());
        if (rows < 1) {
            throw new IllegalArgumentException("vision scratch slot " + slot + " holds no row of " + rowElements
                    + " " + dtype + " values: the scratch was made for a smaller stage");
        }
        return (int) Math.min(rows, Integer.MAX_VALUE);
    }

    /** The first {@code shape.elementCount()} elements of {@code slot}, seen with {@code shape}. */
    Tensor view(Slot slot, Shape shape) {
        return view(slot, shape, DType.F32);
    }

    /**
     * The start of {@code slot} seen as a {@code dtype} tensor of {@code shape} (a 16-bit view uses the first half
     * of the bytes an F32 one would).
     */
    Tensor view(Slot slot, Shape shape, DType dtype) {
        Tensor flat = buffers.get(slot);
        if (flat == null || shape.elementCount() * dtype.byteSize() > flat.byteSize()) {
            throw new IllegalArgumentException("vision scratch slot " + slot + " holds "
                    + (flat == null ? 0 : flat.elementCount()) + " F32 elements, " + dtype + shape + " needs more: "
                    + "the scratch was made for a smaller batch or image");
        }
        return viewAs(flat, shape, dtype);
    }

    /** The start of {@code memory}'s bytes seen as a {@code dtype} tensor of {@code shape}, which must fit in them. */
    static Tensor viewAs(Tensor memory, Shape shape, DType dtype) {
        long bytes = shape.elementCount() * dtype.byteSize();
        if (bytes > memory.byteSize()) {
            throw new IllegalArgumentException(dtype + " " + shape + " does not fit in " + memory.dtype() + " "
                    + memory.shape());
        }
        return Tensor.wrap(dtype, shape, memory.device(), memory.memory().asSlice(0, bytes));
    }
}
