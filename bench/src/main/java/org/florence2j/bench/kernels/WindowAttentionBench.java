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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * DaViT window attention on the Florence-2-base stage-1 map (192×192 tokens, 128 channels, window 12, 4 heads),
 * as the reference's {@code WindowAttention} runs it: partition into 256 windows, qkv linear, attention per
 * window, proj linear, reverse. {@link #attentionOnly} isolates the attention core (~1.4 GFLOP). Baseline: the
 * two linears' share at {@link MatmulBench}'s GFLOP/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class WindowAttentionBench {
    private static final int SIDE = 192;
    private static final int CHANNELS = 128;
    private static final int WINDOW = 12;
    private static final int HEADS = 4;
    private static final int WINDOWS = (SIDE / WINDOW) * (SIDE / WINDOW);

    private Arena arena;
    private Backend backend;
    private Tensor x;
    private Tensor windows;
    private Tensor qkv;
    private Tensor attended;
    private Tensor projected;
    private Tensor out;
    private Tensor qkvWeight;
    private Tensor qkvBias;
    private Tensor projWeight;
    private Tensor projBias;
    private float scale;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        backend = Backends.open(Device.cpu());
        int tokens = WINDOW * WINDOW;
        x = KernelBenchData.random(backend, arena, 1, Shape.of(1, SIDE * SIDE, CHANNELS));
        qkvWeight = KernelBenchData.random(backend, arena, 2, Shape.of(3 * CHANNELS, CHANNELS));
        qkvBias = KernelBenchData.random(backend, arena, 3, Shape.of(3 * CHANNELS));
        projWeight = KernelBenchData.random(backend, arena, 4, Shape.of(CHANNELS, CHANNELS));
        projBias = KernelBenchData.random(backend, arena, 5, Shape.of(CHANNELS));
        windows = backend.allocate(DType.F32, Shape.of(WINDOWS, tokens, CHANNELS), arena);
        qkv = backend.allocate(DType.F32, Shape.of(WINDOWS, tokens, 3 * CHANNELS), arena);
        attended = backend.allocate(DType.F32, Shape.of(WINDOWS, tokens, CHANNELS), arena);
        projected = backend.allocate(DType.F32, Shape.of(WINDOWS, tokens, CHANNELS), arena);
        out = backend.allocate(DType.F32, Shape.of(1, SIDE * SIDE, CHANNELS), arena);
        scale = (float) Math.pow(CHANNELS / HEADS, -0.5);
    }

    @Benchmark
    public Tensor windowAttention() {
        backend.windowPartition(windows, x, SIDE, SIDE, WINDOW);
        backend.linear(qkv, windows, qkvWeight, qkvBias);
        backend.selfAttention(attended, qkv, HEADS, scale);
        backend.linear(projected, attended, projWeight, projBias);
        backend.windowReverse(out, projected, SIDE, SIDE, WINDOW);
        return out;
    }

    @Benchmark
    public Tensor attentionOnly() {
        backend.selfAttention(attended, qkv, HEADS, scale);
        return attended;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
