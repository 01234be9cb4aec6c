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
 * The decode step's matrix-vector products, f32 against bf16 in the same minutes: 3 beams' rows times a packed
 * {@code [n, k]} weight ({@code Backend.uploadLinearWeight}), the f32 backend and the bf16 backend taking turns in
 * every call, so that both see the same host. Enough copies of the weight are cycled through that each call reads
 * them from DRAM, not from a cache.
 *
 * <p>At tear-down it prints each mode's weight bandwidth (weight bytes ÷ time per product) and bf16's as a share of
 * f32's: how fast oneDNN's bf16 brgemm streams a 3-row GEMV's weights compared with its f32 kernel, which decides
 * whether a bf16 decode step can follow the host's memory bandwidth ({@code DecodeStepBench}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class DecodeGemvBench {
    private static final int ROWS = 3;
    /** Weight bytes cycled through per mode, far beyond any cache. */
    private static final long CYCLED_BYTES = 256L << 20;

    /** {@code n x k} of the weight: the LM head, a 768×768 projection, {@code fc1}. */
    @Param({"51289x768", "768x768", "3072x768"})
    public String shape;

    private Arena arena;
    private Backend f32;
    private Backend bf16;
    private Tensor[] f32Weights;
    private Tensor[] bf16Weights;
    private Tensor x;
    private Tensor out;
    private long weightElements;
    private long products;
    private long f32Nanos;
    private long bf16Nanos;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split("x");
        int n = Integer.parseInt(parts[0]);
        int k = Integer.parseInt(parts[1]);
        weightElements = (long) n * k;
        int copies = (int) Math.max(1, CYCLED_BYTES / (weightElements * Float.BYTES));
        arena = Arena.ofShared();
        f32 = Backends.open(Device.cpu(), 0, DType.F32);
        bf16 = Backends.open(Device.cpu(), 0, DType.BF16);
        f32Weights = new Tensor[copies];
        bf16Weights = new Tensor[copies];
        for (int c = 0; c < copies; c++) {
            Tensor host = KernelBenchData.random(f32, arena, 10 + c, Shape.of(n, k));
            f32Weights[c] = f32.uploadLinearWeight(host, DType.F32, arena);
            bf16Weights[c] = bf16.uploadLinearWeight(host, DType.F32, arena);
        }
        x = KernelBenchData.random(f32, arena, 1, Shape.of(ROWS, k));
        out = f32.allocate(DType.F32, Shape.of(ROWS, n), arena);
    }

    /** One pass over the weights in f32, then one in bf16 (its backend rounds the f32 rows, as in a decode step). */
    @Benchmark
    public Tensor f32ThenBf16() {
        long start = System.nanoTime();
        for (Tensor weight : f32Weights) {
            f32.linear(out, x, weight, null);
        }
        long middle = System.nanoTime();
        for (Tensor weight : bf16Weights) {
            bf16.linear(out, x, weight, null);
        }
        bf16Nanos += System.nanoTime() - middle;
        f32Nanos += middle - start;
        products += f32Weights.length;
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        double f32Bandwidth = weightElements * 4.0 * products / f32Nanos;
        double bf16Bandwidth = weightElements * 2.0 * products / bf16Nanos;
        System.out.printf("%nDecodeGemvBench %s x %d rows: f32 %.1f GB/s (%.1f us), bf16 %.1f GB/s (%.1f us);"
                + " bf16 / f32 bandwidth %.2f%n", shape, ROWS, f32Bandwidth, f32Nanos / 1e3 / products,
                bf16Bandwidth, bf16Nanos / 1e3 / products, bf16Bandwidth / f32Bandwidth);
        f32.close();
        bf16.close();
        arena.close();
    }
}
