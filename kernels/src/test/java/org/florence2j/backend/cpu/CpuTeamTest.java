package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.util.concurrent.atomic.AtomicInteger;
import org.florence2j.bindings.Dnnl;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The OpenMP team a backend's ops run on is the thread's setting, shared by every backend that runs ops on that
 * thread (models sharing an engine thread): each op must still get its own backend's team.
 */
class CpuTeamTest {
    /** Bytes over {@link CpuBackend#ONE_THREAD_BYTES}: a linear of this many F32 weights runs on the whole team. */
    private static final int IN = 512;
    private static final int OUT = 256;

    @Test
    void aBackendOpenedAfterAOneThreadOpKeepsTheProcessDefault() throws InterruptedException {
        AtomicInteger freshThreadDefault = new AtomicInteger();
        Thread fresh = new Thread(() -> freshThreadDefault.set(Dnnl.ompGetMaxThreads()));
        fresh.start();
        fresh.join();
        try (Arena arena = Arena.ofConfined(); CpuBackend first = new CpuBackend(0)) {
            Tensor x = Tensor.allocateHost(DType.F32, Shape.of(1, 8), arena);
            Tensor w = Tensor.allocateHost(DType.F32, Shape.of(8, 8), arena);
            first.linear(Tensor.allocateHost(DType.F32, Shape.of(1, 8), arena), x, w, null);
            assertEquals(1, Dnnl.ompGetMaxThreads(), "a small op runs on one thread");
            try (CpuBackend second = new CpuBackend(0)) {
                assertEquals(freshThreadDefault.get(), second.parallelTeam());
                assertEquals(first.parallelTeam(), second.parallelTeam());
            }
        }
    }

    @Test
    void backendsSharingAThreadEachApplyTheirTeam() {
        try (Arena arena = Arena.ofConfined(); CpuBackend two = new CpuBackend(2); CpuBackend one = new CpuBackend(1)) {
            Tensor x = Tensor.allocateHost(DType.F32, Shape.of(1, IN), arena);
            Tensor w = Tensor.allocateHost(DType.F32, Shape.of(OUT, IN), arena);
            Tensor out = Tensor.allocateHost(DType.F32, Shape.of(1, OUT), arena);
            two.linear(out, x, w, null);
            assertEquals(2, Dnnl.ompGetMaxThreads(), "after the two-thread backend's op");
            one.linear(out, x, w, null);
            assertEquals(1, Dnnl.ompGetMaxThreads(), "after the one-thread backend's op");
            two.linear(out, x, w, null);
            assertEquals(2, Dnnl.ompGetMaxThreads(), "the two-thread backend's next op");
        }
    }
}
