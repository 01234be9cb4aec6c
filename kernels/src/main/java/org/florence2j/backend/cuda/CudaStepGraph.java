package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.florence2j.backend.StepGraph;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.CudaRuntime;

/**
 * {@link StepGraph} on CUDA: each variant of a session's decode step (or vision pass) is captured once as a CUDA
 * graph and then replayed per token (or request) with one {@code cudaGraphLaunch} instead of hundreds of launches.
 *
 * <p>Per variant, the first call runs the ops eagerly with the step kernels ({@link Driver#warmUp}): it queues the
 * very work the graph will hold, so it grows the backend's workspace and loads every kernel module before any
 * capture (neither may happen while capturing); the second call captures, instantiates and launches; later calls
 * launch. A graph holds the addresses it was captured with, so it is dropped and captured again when the workspace
 * has moved since ({@link Driver#generation}), and all are dropped by {@link #reset} (new views).
 *
 * <p>If capturing, instantiating or launching fails with a {@link CudaException}, the failure is logged (once per
 * process at WARNING, then at FINE), this graph stops capturing, and that step and every later one run their ops as
 * plain eager calls: the step is correct either way, only slower. Other exceptions (an op refusing its arguments)
 * end the capture and propagate.
 */
final class CudaStepGraph implements StepGraph {
    private static final Logger LOG = Logger.getLogger(CudaStepGraph.class.getName());
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    /** The CUDA work a step graph needs: {@link Capture} in production, a recording fake in tests. */
    interface Driver {
        /** Runs {@code ops} eagerly as a captured step would issue them (device-read step parameters). */
        void warmUp(Runnable ops);

        /**
         * Captures what {@code ops} issue into an executable graph freed when {@code owner} closes; queues nothing.
         *
         * @throws CudaException if capture or instantiation fails
         */
        MemorySegment capture(Runnable ops, Arena owner);

        /** Queues one run of a captured graph. */
        void launch(MemorySegment graph);

        /** Changes whenever memory that a captured graph may have baked in moves. */
        long generation();

        /** Prepares the calling thread to free graphs (binds the device context), if the device is still open. */
        void bindForRelease();
    }

    /** One variant's state: warmed up or not, and its graph once captured. */
    private static final class Variant {
        private boolean warm;
        private Arena arena; // owns graph
        private MemorySegment graph;
        private long generation;

        void drop() {
            if (arena != null) {
                arena.close();
            }
            arena = null;
            graph = null;
        }
    }

    private final Driver driver;
    private final Variant[] variants = new Variant[VARIANTS];
    private boolean capturing = true;

    CudaStepGraph(Driver driver) {
        this.driver = driver;
    }

    @Override
    public void run(int variant, Runnable ops) {
        StepGraph.checkVariant(variant);
        if (!capturing) {
            ops.run();
            return;
        }
        Variant v = variants[variant];
        if (v == null) {
            v = new Variant();
            variants[variant] = v;
        }
        if (v.graph != null && v.generation != driver.generation()) {
            v.drop();
        }
        if (v.graph == null && !v.warm) {
            driver.warmUp(ops);
            v.warm = true;
            return;
        }
        try {
            if (v.graph == null) {
                capture(v, ops);
            }
            driver.launch(v.graph);
        } catch (CudaException e) {
            stopCapturing(e);
            ops.run();
        }
    }

    @Override
    public void reset() {
        driver.bindForRelease();
        for (Variant v : variants) {
            if (v != null) {
                v.drop();
                v.warm = false;
            }
        }
    }

    @Override
    public void close() {
        reset();
    }

    private void capture(Variant v, Runnable ops) {
        long generation = driver.generation();
        Arena arena = Arena.ofShared();
        try {
            v.graph = driver.capture(ops, arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        v.arena = arena;
        v.generation = generation;
    }

    private void stopCapturing(CudaException e) {
        capturing = false;
        reset();
        Level level = FALLBACK_LOGGED.compareAndSet(false, true) ? Level.WARNING : Level.FINE;
        LOG.log(level, "CUDA graph capture failed ({0}); this session issues these ops (its decode steps or its"
                + " vision passes) with eager launches from now on", e.getMessage());
    }

    /** The production {@link Driver}: stream capture on the backend's stream. */
    static final class Capture implements Driver {
        private final CudaBackend backend;

        Capture(CudaBackend backend) {
            this.backend = backend;
        }

        @Override
        public void warmUp(Runnable ops) {
            backend.runStepKernels(ops);
        }

        /**
         * Thread-local capture mode: a call on this thread that cannot be captured (an allocation, a
         * synchronisation) fails and invalidates the capture rather than running outside the graph.
         */
        @Override
        public MemorySegment capture(Runnable ops, Arena owner) {
            MemorySegment stream = backend.captureStream();
            CudaRuntime.streamBeginCapture(stream, CudaRuntime.CAPTURE_MODE_THREAD_LOCAL);
            try {
                backend.runStepKernels(ops);
            } catch (RuntimeException | Error e) {
                endQuietly(stream);
                throw e;
            }
            try (Arena graphArena = Arena.ofConfined()) {
                return CudaRuntime.graphInstantiate(CudaRuntime.streamEndCapture(stream, graphArena), owner);
            }
        }

        @Override
        public void launch(MemorySegment graph) {
            backend.launchStepGraph(graph);
        }

        @Override
        public long generation() {
            return backend.workspaceGeneration();
        }

        @Override
        public void bindForRelease() {
            backend.bindIfOpen();
        }

        /** Ends a capture an op broke off, so the stream runs work again; the partial graph is discarded. */
        private static void endQuietly(MemorySegment stream) {
            try (Arena graphArena = Arena.ofConfined()) {
                CudaRuntime.streamEndCapture(stream, graphArena);
            } catch (CudaException e) {
                LOG.log(Level.FINE, "ending a broken-off capture: {0}", e.getMessage());
            }
        }
    }
}
