package org.florence2j.bench.kernels;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link Backend#linear} at Florence-2-base shapes ({@code m x k} activations times a {@code [n, k]} weight):
 * {@code [2304x512]x[512x1536]} (a 48×48 stage-3 map's qkv projection), {@code [577x768]x[768x3072]} (the BART
 * encoder FFN over 577 tokens) and {@code [3x768]x[768x51289]} (the LM head for 3 beams). Time per call;
 * GFLOP/s = {@code 2·m·k·n / time}, printed at tear-down.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class MatmulBench {
    /** {@code m x k x n}. */
    @Param({"2304x512x1536", "577x768x3072", "3x768x51289"})
    public String shape;

    private Arena arena;
    private Backend backend;
    private Tensor x;
    private Tensor weight;
    private Tensor out;
    private long flops;
    private long calls;
    private long nanos;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split("x");
        int m = Integer.parseInt(parts[0]);
        int k = Integer.parseInt(parts[1]);
        int n = Integer.parseInt(parts[2]);
        flops = 2L * m * k * n;
        arena = Arena.ofShared();
        backend = Backends.open(Device.cpu());
        x = KernelBenchData.random(backend, arena, 1, Shape.of(m, k));
        weight = KernelBenchData.random(backend, arena, 2, Shape.of(n, k));
        out = backend.allocate(DType.F32, Shape.of(m, n), arena);
    }

    @Benchmark
    public Tensor linear() {
        long start = System.nanoTime();
        backend.linear(out, x, weight, null);
        nanos += System.nanoTime() - start;
        calls++;
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.printf("%nMatmulBench %s: %.1f GFLOP/s over %d calls%n", shape,
                flops * (double) calls / nanos, calls);
        backend.close();
        arena.close();
    }
}
