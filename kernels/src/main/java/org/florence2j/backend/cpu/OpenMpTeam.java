package org.florence2j.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import org.florence2j.bindings.Dnnl;

/**
 * Runs Java work on the calling thread's OpenMP team: the calling thread and its libgomp pool workers, the threads
 * oneDNN's primitives run on. An upcall stub is the body of a {@code GOMP_parallel} region.
 *
 * <p>Why not a Java thread of our own: after a oneDNN call the pool's workers spin, waiting for the next region, so
 * another busy thread makes three fight for two cores (a decode step's products took 280 ms instead of ~4 ms in the
 * thirteenth session's try, bench/README). Here the spinning worker itself takes the second share. A region costs
 * ~0.5 µs, where a oneDNN call's team costs ~4 µs.
 *
 * <p>A share runs on a pool worker, so it must only touch memory any thread may (heap arrays, segments of shared or
 * global arenas) and must not keep the thread. A share's exception is caught on its thread (an upcall that throws
 * ends the JVM) and rethrown by {@link #run} once every share has returned. One region at a time: not thread-safe
 * (the backend serialises its ops). Closing frees the upcall stub.
 */
final class OpenMpTeam implements AutoCloseable {
    /** One thread's share of a region's work. */
    @FunctionalInterface
    interface Share {
        /**
         * Runs share {@code thread} of {@code threads}; each number in {@code [0, threads)} runs exactly once, on its
         * own thread.
         */
        void run(int thread, int threads);
    }

    private static final MethodHandle ENTER;

    static {
        try {
            // The region's data pointer arrives as a long: an address argument would be a new segment per call.
            ENTER = MethodHandles.lookup().findVirtual(OpenMpTeam.class, "enter",
                    MethodType.methodType(void.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment entry;
    private volatile Share share; // written before the region starts, read by every thread in it
    private Throwable failure; // the first share's exception in the current region, under this lock

    OpenMpTeam() {
        entry = Linker.nativeLinker().upcallStub(ENTER.bindTo(this), FunctionDescriptor.ofVoid(JAVA_LONG), arena);
    }

    /**
     * Runs {@code work} on up to {@code threads} threads of the calling thread's team (fewer where OpenMP starts
     * fewer; each share learns the count it is one of) and returns when all are done.
     *
     * @throws RuntimeException or {@link Error}: the first exception a share threw, after every share returned
     */
    void run(Share work, int threads) {
        share = work;
        try {
            Dnnl.gompParallel(entry, MemorySegment.NULL, threads);
        } finally {
            share = null;
        }
        Throwable thrown;
        synchronized (this) {
            thrown = failure;
            failure = null;
        }
        if (thrown instanceof RuntimeException e) {
            throw e;
        }
        if (thrown instanceof Error e) {
            throw e;
        }
        if (thrown != null) {
            throw new IllegalStateException("a parallel share failed", thrown);
        }
    }

    /** The region's body on each thread: never throws. */
    private void enter(long ignoredData) {
        try {
            share.run(Dnnl.ompGetThreadNum(), Dnnl.ompGetNumThreads());
        } catch (Throwable t) {
            synchronized (this) {
                if (failure == null) {
                    failure = t;
                }
            }
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
