package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.florence2j.bindings.Dnnl;

/**
 * The DRAM read bandwidth as oneDNN's own threads achieve it: a sum reduction over an F32 array (1 GiB: 16,384 rows
 * of 16,384, each row summed) run on the OpenMP team the backend's ops use. Unlike a Java thread pool's read, it can
 * run between decode steps without the pool and the OpenMP threads (which spin for a while after each op) taking
 * each other's cores, so a step and the bandwidth are measured seconds apart in one process.
 */
final class OneDnnReadProbe implements AutoCloseable {
    private static final long COLUMNS = 16_384;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment engine;
    private final MemorySegment stream;
    private final MemorySegment srcDesc;
    private final MemorySegment dstDesc;
    private final MemorySegment primitiveDesc;
    private final MemorySegment primitive;
    private final MemorySegment srcMemory;
    private final MemorySegment dstMemory;
    private final MemorySegment args;
    private final long bytes;
    private long nanos;
    private long reads;

    /** A 1 GiB array (16,384 rows). */
    OneDnnReadProbe() {
        this(16_384);
    }

    /** An array of {@code rows} rows of 16,384 F32 values (64 KB each). */
    OneDnnReadProbe(long rows) {
        this.bytes = rows * COLUMNS * Float.BYTES;
        engine = Dnnl.engineCreate(Dnnl.ENGINE_CPU, 0);
        stream = Dnnl.streamCreate(engine, Dnnl.STREAM_DEFAULT_FLAGS);
        MemorySegment src = arena.allocate(bytes, 4096);
        for (long i = 0; i < bytes / Float.BYTES; i++) {
            src.setAtIndex(ValueLayout.JAVA_FLOAT, i, i & 0xff);
        }
        MemorySegment dst = arena.allocate(rows * Float.BYTES, 64);
        srcDesc = Dnnl.memoryDescCreateWithStrides(new long[] {rows, COLUMNS}, Dnnl.DATA_TYPE_F32,
                new long[] {COLUMNS, 1});
        dstDesc = Dnnl.memoryDescCreateWithStrides(new long[] {rows, 1}, Dnnl.DATA_TYPE_F32, new long[] {1, 1});
        primitiveDesc = Dnnl.reductionPrimitiveDescCreate(engine, Dnnl.REDUCTION_SUM, srcDesc, dstDesc, 0f, 0f,
                MemorySegment.NULL);
        primitive = Dnnl.primitiveCreate(primitiveDesc);
        srcMemory = Dnnl.memoryCreate(srcDesc, engine, src);
        dstMemory = Dnnl.memoryCreate(dstDesc, engine, dst);
        args = Dnnl.execArgs(arena, Dnnl.ARG_SRC, srcMemory, Dnnl.ARG_DST, dstMemory);
    }

    /**
     * Reads the array {@code times} times on {@code threads} OpenMP threads and adds the time to the total; the
     * calling thread's OpenMP team size is restored afterwards, so the backend's own bookkeeping of it stays true.
     */
    void read(int times, int threads) {
        int previous = Dnnl.ompGetMaxThreads();
        Dnnl.ompSetNumThreads(threads);
        try {
            long start = System.nanoTime();
            for (int i = 0; i < times; i++) {
                Dnnl.primitiveExecute(primitive, stream, 2, args);
            }
            Dnnl.streamWait(stream);
            nanos += System.nanoTime() - start;
            reads += times;
        } finally {
            Dnnl.ompSetNumThreads(previous);
        }
    }

    /** Bytes one read covers. */
    long bytes() {
        return bytes;
    }

    /** Forgets the reads so far. */
    void reset() {
        nanos = 0;
        reads = 0;
    }

    /** GB/s over every read since the last {@link #reset}. */
    double bandwidth() {
        return bytes * (double) reads / nanos;
    }

    @Override
    public void close() {
        Dnnl.memoryDestroy(srcMemory);
        Dnnl.memoryDestroy(dstMemory);
        Dnnl.primitiveDestroy(primitive);
        Dnnl.primitiveDescDestroy(primitiveDesc);
        Dnnl.memoryDescDestroy(srcDesc);
        Dnnl.memoryDescDestroy(dstDesc);
        Dnnl.streamDestroy(stream);
        Dnnl.engineDestroy(engine);
        arena.close();
    }
}
