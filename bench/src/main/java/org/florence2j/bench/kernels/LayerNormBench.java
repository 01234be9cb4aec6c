package org.florence2j.bench.kernels;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
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
 * In-place {@link Backend#layerNorm} at Florence-2-base shapes: the DaViT stage-1 map (192·192 tokens, 128
 * channels) and the BART encoder (577 tokens, 768 channels). Memory-bound; baseline: one read and one write of
 * the tensor at the machine's memory bandwidth.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class LayerNormBench {
    /** {@code tokens x channels}. */
    @Param({"36864x128", "577x768"})
    public String shape;

    private Arena arena;
    private Backend backend;
    private Tensor x;
    private Tensor weight;
    private Tensor bias;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split("x");
        int tokens = Integer.parseInt(parts[0]);
        int channels = Integer.parseInt(parts[1]);
        arena = Arena.ofShared();
        backend = Backends.open(Device.cpu());
        x = KernelBenchData.random(backend, arena, 1, Shape.of(1, tokens, channels));
        weight = KernelBenchData.random(backend, arena, 2, Shape.of(channels));
        bias = KernelBenchData.random(backend, arena, 3, Shape.of(channels));
    }

    @Benchmark
    public Tensor layerNorm() {
        backend.layerNorm(x, x, weight, bias, 1e-5f);
        return x;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
