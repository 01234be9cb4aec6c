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
 * {@link Backend#logSoftmaxTopK} over Florence-2-base's 51,289-token logits as a decoding step calls it: 3 beams
 * ({@code k = 6}, beam scores as offsets) or greedy ({@code k = 1}), each row banning one token. Baseline: the host
 * work the searches did per step before the op, measured once with main's code on the same 2-core EPYC (one
 * thread, load ~5): copying the logits to the Java heap, {@code log_softmax} with {@code Math.exp}, the bans and a
 * scalar scan over rows × vocabulary took ~750 µs for 3 beams and ~215 µs for greedy.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class LogSoftmaxTopKBench {
    private static final int VOCABULARY = 51289;

    /** {@code rows x k}: beam search with 3 beams, or greedy search. */
    @Param({"3x6", "1x1"})
    public String shape;

    private Arena arena;
    private Backend backend;
    private Tensor logits;
    private Tensor scores;
    private Tensor tokens;
    private Tensor logProbs;
    private Tensor logSumExp;
    private Tensor bans;
    private Tensor offsets;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split("x");
        int rows = Integer.parseInt(parts[0]);
        int k = Integer.parseInt(parts[1]);
        arena = Arena.ofShared();
        backend = Backends.open(Device.cpu());
        logits = KernelBenchData.random(backend, arena, 1, Shape.of(rows, VOCABULARY));
        scores = backend.allocate(DType.F32, Shape.of(rows, k), arena);
        tokens = backend.allocate(DType.I32, Shape.of(rows, k), arena);
        logProbs = backend.allocate(DType.F32, Shape.of(rows, k), arena);
        logSumExp = backend.allocate(DType.F32, Shape.of(rows), arena);
        int[] banned = new int[2 * rows];
        for (int r = 0; r < rows; r++) {
            banned[2 * r] = 17 + r;
            banned[2 * r + 1] = -1;
        }
        bans = Tensor.ofInts(Shape.of(rows, 2), arena, banned);
        offsets = k > 1 ? KernelBenchData.random(backend, arena, 2, Shape.of(rows)) : null;
    }

    @Benchmark
    public Tensor logSoftmaxTopK() {
        backend.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bans, -1, offsets);
        return tokens;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
