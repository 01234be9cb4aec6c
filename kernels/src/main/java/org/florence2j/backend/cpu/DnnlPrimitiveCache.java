package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.florence2j.bindings.Dnnl;

/**
 * oneDNN primitives made once per key (op, shapes, dtypes, parameters) and kept, the least recently used first
 * destroyed once more than {@link #CAPACITY} are held; {@link #pinned} ones are kept until {@link #close}.
 *
 * <p>Keys hold token and row counts, so a long-lived model serving prompts of many lengths or batches of many
 * sizes made ~10 primitives (0.4–0.6 MB of native memory) for each new length, without end: 3,760 primitives and
 * +1.4 GB of resident memory after 400 prompt lengths on the tiny model. A request of base needs ~100–200.
 *
 * <p>Each {@link Primitive} owns, besides the primitive itself, one {@code dnnl_memory_t} per argument (its data
 * handle is pointed at the caller's tensor on every execution) and the {@code dnnl_exec_arg_t} array. Scratchpads
 * share one buffer the cache owns, as large as the largest any primitive asked for: primitives run one at a time,
 * and per-primitive scratchpads had added up to 6 MB over a base run. Executing allocates no native memory once
 * that buffer has grown. Not thread-safe; {@link CpuBackend} serialises use.
 */
final class DnnlPrimitiveCache implements AutoCloseable {
    private final MemorySegment engine;
    private final int fpmathMode;
    private final GrowingBuffer scratchpad = new GrowingBuffer();
    /**
     * The most primitives held besides the pinned ones: a few times one request's (base: ~100 for a caption, more
     * for batches and bf16), so that a request never evicts what it is about to use again.
     */
    static final int CAPACITY = 512;

    private final Map<Object, Primitive> primitives = new LinkedHashMap<>(64, 0.75f, true); // least recent first
    private final Map<Object, Primitive> pinned = new HashMap<>();
    private final Key probe = new Key();

    /**
     * @param fpmathMode the {@code dnnl_fpmath_mode_t} of matmuls and convolutions ({@link Builder#computeAttr}),
     *                   e.g. {@link Dnnl#FPMATH_MODE_BF16}
     */
    DnnlPrimitiveCache(MemorySegment engine, int fpmathMode) {
        this.engine = engine;
        this.fpmathMode = fpmathMode;
    }

    /**
     * The cached primitive for {@code key}, built by {@code factory} the first time. Valid until the next call
     * that builds one (which may evict it): run it before asking for another.
     */
    Primitive get(Object key, Function<Builder, Primitive> factory) {
        Primitive primitive = primitives.get(key);
        if (primitive == null) {
            primitive = build(factory);
            primitives.put(key, primitive);
            evictBeyondCapacity();
        }
        return primitive;
    }

    /** As {@link #get}, for a primitive a caller keeps and runs later: never evicted before {@link #close}. */
    Primitive pinned(Object key, Function<Builder, Primitive> factory) {
        Primitive primitive = pinned.get(key);
        if (primitive == null) {
            primitive = build(factory);
            pinned.put(key, primitive);
        }
        return primitive;
    }

    /**
     * The cache's one look-up key, reset to {@code op}: the caller adds the shape's values, then calls {@link #find}
     * and, on a miss, {@link #create}. Reusing it (and building only on a miss, so no factory lambda is made on a
     * hit) is what lets a decoder step's ~150 look-ups allocate nothing.
     */
    Key key(Object op) {
        return probe.reset(op);
    }

    /** The primitive cached under {@code key}, or null. */
    Primitive find(Key key) {
        return primitives.get(key);
    }

    /**
     * Builds the primitive for {@code key} with {@code factory} and caches it under a copy of the key; valid as
     * {@link #get}'s is.
     */
    Primitive create(Key key, Function<Builder, Primitive> factory) {
        Primitive primitive = build(factory);
        primitives.put(key.copy(), primitive);
        evictBeyondCapacity();
        return primitive;
    }

    private Primitive build(Function<Builder, Primitive> factory) {
        try (Builder builder = new Builder()) {
            return factory.apply(builder);
        }
    }

    /** Destroys the least recently used primitives while more than {@link #CAPACITY} are held. */
    private void evictBeyondCapacity() {
        var eldest = primitives.values().iterator();
        for (int excess = primitives.size() - CAPACITY; excess > 0; excess--) {
            eldest.next().destroy();
            eldest.remove();
        }
    }

    /** A builder for descriptors the caller keeps (closing it destroys only the parts it collected). */
    Builder builder() {
        return new Builder();
    }

    /** Number of primitives held, pinned ones included (tests check that a repeated op reuses its primitive). */
    int size() {
        return primitives.size() + pinned.size();
    }

    @Override
    public void close() {
        for (Primitive primitive : primitives.values()) {
            primitive.destroy();
        }
        for (Primitive primitive : pinned.values()) {
            primitive.destroy();
        }
        primitives.clear();
        pinned.clear();
        scratchpad.close();
    }

    /**
     * Collects the memory descriptors, attributes and post-ops made while building one primitive and destroys
     * them when done (oneDNN copies what it keeps into the primitive descriptor).
     */
    final class Builder implements AutoCloseable {
        private final List<MemorySegment> memoryDescs = new ArrayList<>();
        private final List<MemorySegment> attrs = new ArrayList<>();
        private final List<MemorySegment> postOps = new ArrayList<>();

        MemorySegment engine() {
            return engine;
        }

        /** A plain memory descriptor; {@code strides} in elements. */
        MemorySegment desc(int dataType, long[] dims, long[] strides) {
            MemorySegment desc = Dnnl.memoryDescCreateWithStrides(dims, dataType, strides);
            memoryDescs.add(desc);
            return desc;
        }

        /** A dense row-major memory descriptor. */
        MemorySegment dense(int dataType, long... dims) {
            return desc(dataType, dims, denseStrides(dims));
        }

        /** A descriptor whose layout the primitive chooses ({@code dnnl_format_tag_any}). */
        MemorySegment any(int dataType, long... dims) {
            MemorySegment desc = Dnnl.memoryDescCreateWithTag(dims, dataType, Dnnl.FORMAT_TAG_ANY);
            memoryDescs.add(desc);
            return desc;
        }

        /** Attributes with a user-provided scratchpad, and the given post-ops when not NULL. */
        MemorySegment attr(MemorySegment postOpsOrNull) {
            MemorySegment attr = Dnnl.primitiveAttrCreate();
            attrs.add(attr);
            Dnnl.primitiveAttrSetScratchpadMode(attr, Dnnl.SCRATCHPAD_MODE_USER);
            if (postOpsOrNull != null) {
                Dnnl.primitiveAttrSetPostOps(attr, postOpsOrNull);
            }
            return attr;
        }

        /**
         * {@link #attr} for a matmul or convolution, with the cache's math mode: in bf16 mode their inputs are
         * rounded to bf16 and accumulated in f32, while normalisation, softmax and element-wise ops stay f32.
         */
        MemorySegment computeAttr(MemorySegment postOpsOrNull) {
            MemorySegment attr = attr(postOpsOrNull);
            if (fpmathMode != Dnnl.FPMATH_MODE_STRICT) {
                Dnnl.primitiveAttrSetFpmathMode(attr, fpmathMode);
            }
            return attr;
        }

        /** An empty post-op chain to append to. */
        MemorySegment postOps() {
            MemorySegment chain = Dnnl.postOpsCreate();
            postOps.add(chain);
            return chain;
        }

        /**
         * Makes the primitive for {@code primitiveDesc} (which this call destroys) with one memory object per
         * argument in {@code argIds}, in the order {@link Primitive#execute} receives their data.
         */
        Primitive primitive(MemorySegment primitiveDesc, int... argIds) {
            try {
                return new Primitive(primitiveDesc, argIds);
            } finally {
                Dnnl.primitiveDescDestroy(primitiveDesc);
            }
        }

        @Override
        public void close() {
            memoryDescs.forEach(Dnnl::memoryDescDestroy);
            attrs.forEach(Dnnl::primitiveAttrDestroy);
            postOps.forEach(Dnnl::postOpsDestroy);
        }
    }

    /**
     * A primitive's cache key: an op and up to {@value #CAPACITY} values (sizes, strides, data types, flags, float
     * bits). Mutable so that one probe serves every look-up; {@link #create} stores a copy.
     */
    static final class Key {
        private static final int CAPACITY = 20;
        private final long[] values;
        private Object op;
        private int size;

        private Key() {
            values = new long[CAPACITY];
        }

        private Key(Object op, long[] values, int size) {
            this.op = op;
            this.values = values;
            this.size = size;
        }

        private Key reset(Object newOp) {
            op = newOp;
            size = 0;
            return this;
        }

        Key add(long value) {
            values[size++] = value;
            return this;
        }

        Key add(boolean value) {
            return add(value ? 1 : 0);
        }

        Key add(float value) {
            return add(Float.floatToIntBits(value));
        }

        private Key copy() {
            return new Key(op, Arrays.copyOf(values, size), size);
        }

        @Override
        public int hashCode() {
            int hash = op.hashCode();
            for (int i = 0; i < size; i++) {
                hash = 31 * hash + Long.hashCode(values[i]);
            }
            return hash;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Key key && key.op.equals(op)
                    && Arrays.equals(values, 0, size, key.values, 0, key.size);
        }
    }

    /** Strides, in elements, of a dense row-major array. */
    static long[] denseStrides(long[] dims) {
        long[] strides = new long[dims.length];
        long stride = 1;
        for (int axis = dims.length - 1; axis >= 0; axis--) {
            strides[axis] = stride;
            stride *= dims[axis];
        }
        return strides;
    }

    /** One primitive with its argument memories, argument array and scratchpad. */
    final class Primitive {
        private static final int QUERY_EXEC_ARG_MD = 255;
        private final MemorySegment primitive;
        private final MemorySegment[] memories;
        private final MemorySegment scratchpadMemory; // null when the primitive needs none
        private final long scratchpadBytes;
        private final Arena argsArena = Arena.ofShared(); // freed with the primitive, which eviction may destroy
        private final MemorySegment args;
        private final int argCount;
        private final long[] argByteSizes;

        private Primitive(MemorySegment primitiveDesc, int[] argIds) {
            memories = new MemorySegment[argIds.length];
            argByteSizes = new long[argIds.length];
            MemorySegment scratchpadDesc = Dnnl.primitiveDescQueryMd(primitiveDesc, Dnnl.QUERY_SCRATCHPAD_MD, 0);
            scratchpadBytes = scratchpadDesc.equals(MemorySegment.NULL) ? 0 : Dnnl.memoryDescGetSize(scratchpadDesc);
            argCount = argIds.length + (scratchpadBytes > 0 ? 1 : 0);
            args = argsArena.allocate(Dnnl.EXEC_ARG, argCount);
            for (int i = 0; i < argIds.length; i++) {
                MemorySegment desc = Dnnl.primitiveDescQueryMd(primitiveDesc, QUERY_EXEC_ARG_MD, argIds[i]);
                argByteSizes[i] = Dnnl.memoryDescSpanBytes(desc);
                memories[i] = Dnnl.memoryCreate(desc, engine, MemorySegment.NULL);
                setArg(i, argIds[i], memories[i]);
            }
            if (scratchpadBytes > 0) {
                scratchpadMemory = Dnnl.memoryCreate(scratchpadDesc, engine, MemorySegment.NULL);
                setArg(argIds.length, Dnnl.ARG_SCRATCHPAD, scratchpadMemory);
            } else {
                scratchpadMemory = null;
            }
            primitive = Dnnl.primitiveCreate(primitiveDesc);
        }

        private void setArg(int index, int argId, MemorySegment memory) {
            long base = index * Dnnl.EXEC_ARG.byteSize();
            args.set(ValueLayout.JAVA_INT, base, argId);
            args.set(ValueLayout.ADDRESS, base + 8, memory);
        }

        /** Bytes argument {@code index} spans from its first element (in the primitive's layout). */
        long argByteSize(int index) {
            return argByteSizes[index];
        }

        /**
         * Runs the primitive on {@code data}, one segment per argument in build order. Each segment's address is
         * what oneDNN reads or writes; its size is checked against what the layout needs, so that a wrong view
         * fails here rather than in native code.
         */
        void execute(MemorySegment stream, MemorySegment... data) {
            for (int i = 0; i < data.length; i++) {
                bind(i, data[i]);
            }
            run(stream);
        }

        /** {@link #execute(MemorySegment, MemorySegment...)} for two arguments, without a varargs array. */
        void execute(MemorySegment stream, MemorySegment a, MemorySegment b) {
            bind(0, a);
            bind(1, b);
            run(stream);
        }

        /** Three arguments, without a varargs array (a decoder step calls primitives ~150 times). */
        void execute(MemorySegment stream, MemorySegment a, MemorySegment b, MemorySegment c) {
            bind(0, a);
            bind(1, b);
            bind(2, c);
            run(stream);
        }

        /** Four arguments, without a varargs array. */
        void execute(MemorySegment stream, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment d) {
            bind(0, a);
            bind(1, b);
            bind(2, c);
            bind(3, d);
            run(stream);
        }

        /** Points the scratchpad at the shared one (it may have grown since the last call), then executes. */
        private void run(MemorySegment stream) {
            if (scratchpadMemory != null) {
                Dnnl.memorySetDataHandle(scratchpadMemory, scratchpad.atLeast(scratchpadBytes));
            }
            Dnnl.primitiveExecute(primitive, stream, argCount, args);
        }

        private void bind(int i, MemorySegment data) {
            if (data.byteSize() < argByteSizes[i]) {
                throw new IllegalArgumentException("oneDNN argument " + i + " needs " + argByteSizes[i]
                        + " bytes, got a " + data.byteSize() + "-byte segment");
            }
            Dnnl.memorySetDataHandle(memories[i], data);
        }

        private void destroy() {
            Dnnl.primitiveDestroy(primitive);
            for (MemorySegment memory : memories) {
                Dnnl.memoryDestroy(memory);
            }
            if (scratchpadMemory != null) {
                Dnnl.memoryDestroy(scratchpadMemory);
            }
            argsArena.close();
        }
    }
}
