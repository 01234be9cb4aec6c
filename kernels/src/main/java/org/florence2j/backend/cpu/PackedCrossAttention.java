package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.bindings.Dnnl;

/**
 * Cross-attention of a bf16-mode decoder step ({@link CpuBackend#attentionTransposedKeys}) over keys and values
 * packed once per image into bf16, in the blocked layout oneDNN's batched bf16 matmul chooses for them.
 *
 * <p>Why: a base decoder step reads 21.5 MB of F32 cross-attention keys and values, ~12 % of its bf16 weights'
 * bytes on top of them. In bf16 they are half that, and in oneDNN's own layout its batched bf16 matmul reads them
 * as they are; given them plain, it re-packed them on every call and took longer than F32 (ninth session, bench/
 * README). In a base bf16 step (3 beams, 584 tokens, timed per call): high-part scores 27–31 µs, low-part scores
 * 11–16 µs (the same keys read again, by the timing mostly from cache), softmax 5, values 21–23 and the query
 * split 4 µs: ~75 µs a layer against ~105 µs for the F32 primitives.
 *
 * <p>Precision: the keys, values and probabilities are bf16 (as in the vision tower's bf16 attention), the queries
 * nearly F32: each is split into a bf16 high part and the bf16 rounding of what it leaves
 * ({@link VectorKernels#splitToBfloat16}), and the scores are the sum of the two parts' products, accumulated in
 * F32 by a second matmul's sum post-op. Queries rounded to bf16 alone cost the tiny model's goldens half their
 * identical greedy sequences (2 of 16 instead of 4, under {@code Bf16ModeTest}'s floor); bf16 probabilities cost
 * none.
 *
 * <p>The packed copies are this class's, one per image slot of the caller's F32 tensors (identified by address),
 * made from those F32 tensors on the first call after {@link #invalidate} and kept until the tensors' memory is
 * freed. The F32 tensors stay as {@link CpuBackend#transposeKeys} and {@link CpuBackend#headMajorValues} wrote them.
 * Holds its scratch between calls; not thread-safe (the backend serialises its ops).
 */
final class PackedCrossAttention implements AutoCloseable {
    private enum Op { SCORES, SCORES_ADDED, VALUES, PACK_KEYS, PACK_VALUES }

    /** The backend's softmax over {@code rows} rows of {@code width} F32 values, written as {@code outType}. */
    @FunctionalInterface
    interface RowSoftmax {
        void run(MemorySegment x, MemorySegment out, long rows, long width, int outType);
    }

    private final DnnlPrimitiveCache cache;
    private final MemorySegment engine;
    private final RowSoftmax softmax;
    private final List<PackedSlot> slots = new ArrayList<>();
    private final Geometry geometry = new Geometry();
    private Arena scratchArena = Arena.ofShared();
    // Per image, made once here: a slice of the caller's tensors per call was allocation in every decoder step of a
    // batch of images. Each may be larger than a call needs.
    private MemorySegment[] highQueries = new MemorySegment[0]; // [rows, channels] bf16
    private MemorySegment[] lowQueries = new MemorySegment[0]; // [rows, channels] bf16
    private MemorySegment[] outputs = new MemorySegment[0]; // [rows, channels] F32, copied to the image's out rows
    private MemorySegment scores = MemorySegment.NULL; // [heads, rows, tokens] F32
    private MemorySegment probabilities = MemorySegment.NULL; // [heads, rows, tokens] bf16

    PackedCrossAttention(DnnlPrimitiveCache cache, MemorySegment engine, RowSoftmax softmax) {
        this.cache = cache;
        this.engine = engine;
        this.softmax = softmax;
    }

    /**
     * One image slot's packed keys or values: a copy of the F32 slot at {@code address}, packed for matmuls of
     * {@code rows} query rows over {@code tokens} tokens; {@code stale} once the slot was written again.
     */
    private static final class PackedSlot {
        final long address;
        MemorySegment source; // the F32 slot, for its lifetime
        Arena arena;
        MemorySegment packed = MemorySegment.NULL;
        long rows;
        long tokens;
        boolean stale = true;

        PackedSlot(long address) {
            this.address = address;
        }

        void free() {
            if (arena != null) {
                arena.close();
            }
        }
    }

    /**
     * Marks the packed copies of {@code images} image slots of {@code slotBytes} each, from {@code tensor}'s first
     * byte, as out of date: the backend just wrote those F32 slots.
     */
    void invalidate(MemorySegment tensor, long images, long slotBytes) {
        for (long image = 0; image < images; image++) {
            PackedSlot slot = find(tensor.address() + image * slotBytes);
            if (slot != null) {
                slot.stale = true;
            }
        }
    }

    /**
     * {@code out = softmax(scale · q·kᵀ) · v} per head for {@code images} images, each image's {@code rows}
     * consecutive query rows attending to its own first {@code tokens} keys and values.
     *
     * @param q      F32 {@code [images · rows, heads · headDim]}
     * @param keysT  F32 {@code [images, heads · headDim, capacity]}
     * @param values F32 {@code [images, heads, capacity, headDim]}
     * @param out    F32 {@code [images · rows, heads · headDim]}
     */
    void run(MemorySegment stream, MemorySegment out, MemorySegment q, MemorySegment keysT, MemorySegment values,
            int images, int rows, int heads, int headDim, int tokens, int capacity, float scale, int team) {
        long channels = (long) heads * headDim;
        long slotBytes = channels * capacity * Float.BYTES;
        Geometry g = geometry.set(heads, rows, headDim, tokens, capacity, scale, team);
        var scoresPrimitive = scores(g, Op.SCORES);
        var addedScoresPrimitive = scores(g, Op.SCORES_ADDED);
        var valuesPrimitive = values(g);
        long imageElements = rows * channels;
        reserve(images, imageElements, (long) heads * rows * tokens);
        for (int image = 0; image < images; image++) {
            MemorySegment packedKeys = packed(stream, Op.PACK_KEYS, g, keysT, image * slotBytes, slotBytes);
            MemorySegment packedValues = packed(stream, Op.PACK_VALUES, g, values, image * slotBytes, slotBytes);
            VectorKernels.splitToBfloat16(highQueries[image], lowQueries[image], q, image * imageElements,
                    imageElements);
            scoresPrimitive.execute(stream, highQueries[image], packedKeys, scores);
            addedScoresPrimitive.execute(stream, lowQueries[image], packedKeys, scores);
            softmax.run(scores, probabilities, heads * rows, tokens, Dnnl.DATA_TYPE_BF16);
            valuesPrimitive.execute(stream, probabilities, packedValues, outputs[image]);
            MemorySegment.copy(outputs[image], 0, out, image * imageElements * Float.BYTES,
                    imageElements * Float.BYTES);
        }
    }

    /**
     * One problem's sizes and the OpenMP team it runs on: the key of its primitives. Mutable, one per instance
     * (set by {@link #run}): an object per call was allocation in every decoder step.
     */
    private static final class Geometry {
        long heads;
        long rows;
        long headDim;
        long tokens;
        long capacity;
        float scale;
        int team;

        Geometry set(long heads, long rows, long headDim, long tokens, long capacity, float scale, int team) {
            this.heads = heads;
            this.rows = rows;
            this.headDim = headDim;
            this.tokens = tokens;
            this.capacity = capacity;
            this.scale = scale;
            this.team = team;
            return this;
        }

        DnnlPrimitiveCache.Key key(DnnlPrimitiveCache cache, Op op) {
            return cache.key(op).add(heads).add(rows).add(headDim).add(tokens).add(capacity).add(scale).add(team);
        }
    }

    /**
     * q·kᵀ of one part of the queries ({@code [heads, rows, headDim]} bf16, read from token rows) into F32
     * {@code [heads, rows, tokens]}: {@link Op#SCORES} writes the high part's products; {@link Op#SCORES_ADDED} adds
     * the low part's and multiplies the sum by the scale (post-ops sum, then linear).
     */
    private DnnlPrimitiveCache.Primitive scores(Geometry g, Op op) {
        var key = g.key(cache, op);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, b -> {
                MemorySegment layout = matmulDesc(b, Op.SCORES, g);
                try {
                    MemorySegment postOps = null;
                    if (op == Op.SCORES_ADDED) {
                        postOps = b.postOps();
                        Dnnl.postOpsAppendSum(postOps, 1f);
                        Dnnl.postOpsAppendEltwise(postOps, Dnnl.ELTWISE_LINEAR, g.scale, 0f);
                    }
                    return b.primitive(Dnnl.matmulPrimitiveDescCreate(engine, queryDesc(b, g),
                            Dnnl.primitiveDescQueryMd(layout, Dnnl.QUERY_WEIGHTS_MD, 0), MemorySegment.NULL,
                            b.dense(Dnnl.DATA_TYPE_F32, g.heads, g.rows, g.tokens), b.attr(postOps)),
                            Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST);
                } finally {
                    Dnnl.primitiveDescDestroy(layout);
                }
            });
        }
        return primitive;
    }

    /** p·v: bf16 probabilities times the packed values, F32 out in token rows ({@code [rows, channels]}). */
    private DnnlPrimitiveCache.Primitive values(Geometry g) {
        var key = g.key(cache, Op.VALUES);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, b -> b.primitive(matmulDesc(b, Op.VALUES, g),
                    Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST));
        }
        return primitive;
    }

    /**
     * The matmul whose weights' layout the packed keys ({@link Op#SCORES}) or values ({@link Op#VALUES}) take:
     * the weights' layout is oneDNN's choice ({@code format_tag any}).
     */
    private MemorySegment matmulDesc(DnnlPrimitiveCache.Builder b, Op op, Geometry g) {
        long channels = g.heads * g.headDim;
        if (op == Op.SCORES) {
            return Dnnl.matmulPrimitiveDescCreate(engine, queryDesc(b, g),
                    b.any(Dnnl.DATA_TYPE_BF16, g.heads, g.headDim, g.tokens), MemorySegment.NULL,
                    b.dense(Dnnl.DATA_TYPE_F32, g.heads, g.rows, g.tokens), b.attr(null));
        }
        return Dnnl.matmulPrimitiveDescCreate(engine, b.dense(Dnnl.DATA_TYPE_BF16, g.heads, g.rows, g.tokens),
                b.any(Dnnl.DATA_TYPE_BF16, g.heads, g.tokens, g.headDim), MemorySegment.NULL,
                b.desc(Dnnl.DATA_TYPE_F32, new long[] {g.heads, g.rows, g.headDim},
                        new long[] {g.headDim, channels, 1}),
                b.attr(null));
    }

    /** One part of the queries, {@code [heads, rows, headDim]} read from bf16 token rows. */
    private static MemorySegment queryDesc(DnnlPrimitiveCache.Builder b, Geometry g) {
        return b.desc(Dnnl.DATA_TYPE_BF16, new long[] {g.heads, g.rows, g.headDim},
                new long[] {g.headDim, g.heads * g.headDim, 1});
    }

    /**
     * The packed copy of the F32 slot of {@code slotBytes} at {@code offset} in {@code tensor}, packed now if it is
     * missing or stale: a reorder from the slot's first tokens (keys {@code [heads, headDim, capacity]}, values
     * {@code [heads, capacity, headDim]}) into bf16 in the layout of the matmul that reads it. Slices the tensor
     * only to pack: a decoder step allocates nothing here.
     */
    private MemorySegment packed(MemorySegment stream, Op op, Geometry g, MemorySegment tensor, long offset,
            long slotBytes) {
        long address = tensor.address() + offset;
        PackedSlot slot = find(address);
        if (slot == null) {
            slots.removeIf(PackedCrossAttention::freeIfDead);
            slot = new PackedSlot(address);
            slots.add(slot);
        }
        if (!slot.stale && slot.rows == g.rows && slot.tokens == g.tokens && slot.source.scope().isAlive()) {
            return slot.packed;
        }
        var key = g.key(cache, op);
        var reorder = cache.find(key);
        if (reorder == null) {
            reorder = cache.create(key, b -> {
                MemorySegment layout = matmulDesc(b, op == Op.PACK_KEYS ? Op.SCORES : Op.VALUES, g);
                try {
                    MemorySegment from = op == Op.PACK_KEYS
                            ? b.desc(Dnnl.DATA_TYPE_F32, new long[] {g.heads, g.headDim, g.tokens},
                                    new long[] {g.headDim * g.capacity, g.capacity, 1})
                            : b.desc(Dnnl.DATA_TYPE_F32, new long[] {g.heads, g.tokens, g.headDim},
                                    new long[] {g.capacity * g.headDim, g.headDim, 1});
                    return b.primitive(Dnnl.reorderPrimitiveDescCreate(from, engine,
                            Dnnl.primitiveDescQueryMd(layout, Dnnl.QUERY_WEIGHTS_MD, 0), engine, b.attr(null)),
                            Dnnl.ARG_FROM, Dnnl.ARG_TO);
                } finally {
                    Dnnl.primitiveDescDestroy(layout);
                }
            });
        }
        long bytes = reorder.argByteSize(1);
        if (slot.packed.byteSize() < bytes) {
            slot.free();
            slot.arena = Arena.ofShared();
            slot.packed = slot.arena.allocate(bytes, 64);
        }
        MemorySegment source = tensor.asSlice(offset, slotBytes);
        reorder.execute(stream, source, slot.packed);
        slot.source = source;
        slot.rows = g.rows;
        slot.tokens = g.tokens;
        slot.stale = false;
        return slot.packed;
    }

    /** The slot at {@code address}, or null (a linear search: a model has two per layer and image). */
    private PackedSlot find(long address) {
        for (int i = 0; i < slots.size(); i++) {
            PackedSlot slot = slots.get(i);
            if (slot.address == address) {
                return slot;
            }
        }
        return null;
    }

    private static boolean freeIfDead(PackedSlot slot) {
        boolean dead = slot.source != null && !slot.source.scope().isAlive();
        if (dead) {
            slot.free();
        }
        return dead;
    }

    private void reserve(int images, long imageElements, long scoreCount) {
        if (highQueries.length < images || highQueries[0].byteSize() < imageElements * Short.BYTES
                || scores.byteSize() < scoreCount * Float.BYTES) {
            scratchArena.close();
            scratchArena = Arena.ofShared();
            highQueries = new MemorySegment[images];
            lowQueries = new MemorySegment[images];
            outputs = new MemorySegment[images];
            for (int image = 0; image < images; image++) {
                highQueries[image] = scratchArena.allocate(imageElements * Short.BYTES, 64);
                lowQueries[image] = scratchArena.allocate(imageElements * Short.BYTES, 64);
                outputs[image] = scratchArena.allocate(imageElements * Float.BYTES, 64);
            }
            scores = scratchArena.allocate(scoreCount * Float.BYTES, 64);
            probabilities = scratchArena.allocate(scoreCount * Short.BYTES, 64);
        }
    }

    @Override
    public void close() {
        scratchArena.close();
        slots.forEach(PackedSlot::free);
        slots.clear();
    }
}
