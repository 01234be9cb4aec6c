package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.florence2j.backend.Backend;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.config.TextConfig;
import org.florence2j.tensor.DType;
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
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * One BART decoder step of {@code <CAPTION>} beam search on Florence-2-base, and in the same run the machine's
 * memory bandwidth, so the step can be compared with the time to stream its weights once.
 *
 * <p>{@code decodeStep}: 3 beams of one image, KV cache, cross-attention K/V precomputed once at set-up from a
 * random 584-token encoder output (577 image tokens + the 7-token caption prompt), the LM head over all 51,289
 * tokens ({@link DecodeFixture}). Each call is what {@code Session} does per generated token minus the search: a
 * beam reorder of the self K/V (parents {@code [0, 0, 1]}, so it is never skipped), the step's embeddings, 6
 * layers, the logits. Positions cycle through 0…19, the lengths a 20-token caption decodes at. {@code -prof gc}
 * should show ~0 B/op.
 *
 * <p>{@code streamRead}: sums a 1 GiB off-heap F32 segment with the Vector API, split over {@code OMP_NUM_THREADS}
 * (else every core) threads of a pool made at set-up: the sustained read bandwidth of DRAM (the segment is far
 * larger than every cache) as plain loads achieve it. At tear-down it prints GB/s, and {@code decodeStep} prints
 * its weight bytes and the time to stream them at a given bandwidth ({@code -Dflorence2j.bench.bandwidth=GBPS}
 * in {@code -jvmArgsAppend}; run both benchmarks together and divide by hand otherwise).
 *
 * <p>The host's bandwidth drifts from one minute to the next, and the two benchmarks run minutes apart in their own
 * forks; so {@code decodeStep} also measures it in its own fork, before every iteration, on the threads its ops
 * run on ({@link OneDnnReadProbe}: three 1 GiB reads, not timed by JMH), and prints the step ÷ stream ratio of
 * those paired measurements at tear-down. Since the host's bandwidth also moves within an iteration, it pairs more
 * tightly too: after every 20 steps one 256 MB read on the same threads, and it prints the median (p10, p90) of those
 * windows' ratios.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx2g"})
public class DecodeStepBench {
    /** Steps between two reads of the tight pairing ({@link Step#closeWindow}): ~0.1–0.2 s. */
    private static final int WINDOW_STEPS = 20;
    /** Rows of 64 KB the tight pairing reads: 256 MB, about as much as a step's weights. */
    private static final long WINDOW_READ_ROWS = 4096;
    /** Windows kept for the tear-down's median; ~15 minutes of measurement at the longest steps. */
    private static final int MAX_WINDOWS = 4096;

    /** The decoder, a filled cross K/V and the step buffers. */
    @State(Scope.Benchmark)
    public static class Step {
        private LoadedCheckpoint checkpoint;
        private Backend backend;
        /**
         * The backend's compute type: {@code f32}, or {@code bf16} (linear weights stored and read in bf16). A
         * parameter of the step's state only, so that {@link #streamRead}, which reads no weights, runs once.
         */
        @Param({"f32", "bf16"})
        public String dtype;

        private Arena arena;
        private DecodeFixture fixture;
        private long weightBytes;
        private long crossBytes;
        private int position;
        private long calls;
        private long nanos;
        private OneDnnReadProbe bandwidth;
        private boolean measuring;
        private OneDnnReadProbe windowRead;
        private long windowNanos;
        private int windowSteps;
        private final double[] windowRatios = new double[MAX_WINDOWS];
        private int windows;

        @Setup(Level.Trial)
        public void setUp() {
            checkpoint = Checkpoints.open(RandomBaseFolder.get(DType.F32));
            TextConfig text = checkpoint.config().text();
            backend = BenchModel.backend(dtype);
            arena = Arena.ofShared();
            fixture = DecodeFixture.load(checkpoint, backend, arena);
            int elementBytes = dtype.equals("bf16") ? Short.BYTES : Float.BYTES;
            weightBytes = stepWeightBytes(text, elementBytes);
            // bf16 mode's cross-attention reads its keys and values packed in bf16 (with the Java decode kernels,
            // the benchmarks' default).
            crossBytes = 2L * text.decoderLayers() * DecodeFixture.ENCODER_TOKENS * text.dModel() * elementBytes;
            bandwidth = new OneDnnReadProbe();
            windowRead = new OneDnnReadProbe(WINDOW_READ_ROWS);
        }

        /**
         * The paired bandwidth measurement: three reads of 1 GiB just before each iteration, same process. The
         * first measurement iteration drops what warm-up accumulated, so the step time and the bandwidth printed
         * at tear-down both cover the measurement iterations only.
         */
        @Setup(Level.Iteration)
        public void measureBandwidth(IterationParams iteration) {
            if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
                measuring = true;
                nanos = 0;
                calls = 0;
                bandwidth.reset();
                windows = 0;
                windowNanos = 0;
                windowSteps = 0;
            }
            bandwidth.read(3, BenchModel.threads());
        }

        /**
         * The tight pairing: after every {@link #WINDOW_STEPS} steps, one read of {@link #WINDOW_READ_ROWS} rows
         * (256 MB, ~5 ms) on the step's threads, and that window's step ÷ stream ratio kept. The host's bandwidth
         * moves within seconds, so a ratio over steps and a read ~0.1 s apart follows the host better than the
         * per-iteration pairing above. Not timed by JMH (invocation-level set-up), nor allocating.
         */
        @Setup(Level.Invocation)
        public void closeWindow() {
            if (windowSteps < WINDOW_STEPS) {
                return;
            }
            windowRead.reset();
            windowRead.read(1, BenchModel.threads());
            double streamNanos = weightBytes / windowRead.bandwidth();
            if (measuring && windows < MAX_WINDOWS) {
                windowRatios[windows++] = windowNanos / (double) windowSteps / streamNanos;
            }
            windowNanos = 0;
            windowSteps = 0;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            double stepMs = nanos / 1e6 / calls;
            System.out.printf("%nDecodeStepBench.decodeStep %s: %.2f ms per step over %d measured calls, %d threads;"
                    + " weights read per step %.1f MB (+ %.1f MB cross K/V)%n", dtype, stepMs, calls,
                    BenchModel.threads(), weightBytes / 1e6, crossBytes / 1e6);
            double pairedGbps = bandwidth.bandwidth();
            double pairedStreamMs = weightBytes / (pairedGbps * 1e9) * 1e3;
            System.out.printf("  paired read bandwidth (oneDNN sum over 1 GiB before each iteration): %.2f GB/s;"
                    + " the weights stream in %.2f ms: step / stream = %.2f%n", pairedGbps, pairedStreamMs,
                    stepMs / pairedStreamMs);
            if (windows > 0) {
                double[] sorted = Arrays.copyOf(windowRatios, windows);
                Arrays.sort(sorted);
                System.out.printf("  windows of %d steps, each followed by a %d MB read: step / stream median %.2f"
                        + " (p10 %.2f, p90 %.2f) over %d windows%n", WINDOW_STEPS, windowRead.bytes() >> 20,
                        sorted[windows / 2], sorted[windows / 10], sorted[windows * 9 / 10], windows);
            }
            String given = System.getProperty("florence2j.bench.bandwidth");
            if (given != null) {
                double streamMs = weightBytes / (Double.parseDouble(given) * 1e9) * 1e3;
                System.out.printf("  at %s GB/s the weights stream in %.2f ms: step / stream = %.2f%n", given,
                        streamMs, stepMs / streamMs);
            }
            bandwidth.close();
            windowRead.close();
            backend.close();
            arena.close();
            checkpoint.close();
        }
    }

    /** A 1 GiB segment and the reading threads. */
    @State(Scope.Benchmark)
    public static class Stream {
        private static final long BYTES = 1L << 30;
        private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
        private Arena arena;
        private MemorySegment segment;
        private ExecutorService pool;
        private int threads;
        private long calls;
        private long nanos;

        @Setup(Level.Trial)
        public void setUp() {
            arena = Arena.ofShared();
            segment = arena.allocate(BYTES, 4096);
            for (long i = 0; i < BYTES / Float.BYTES; i++) {
                segment.setAtIndex(ValueLayout.JAVA_FLOAT, i, i & 0xff);
            }
            threads = BenchModel.threads();
            pool = Executors.newFixedThreadPool(threads);
        }

        float read() throws InterruptedException, ExecutionException {
            long slice = BYTES / threads;
            @SuppressWarnings("unchecked")
            Future<Float>[] parts = new Future[threads];
            for (int t = 0; t < threads; t++) {
                long from = t * slice;
                parts[t] = pool.submit(() -> sum(from, from + slice));
            }
            float total = 0;
            for (Future<Float> part : parts) {
                total += part.get();
            }
            return total;
        }

        /** Four independent accumulators, so the adds never wait on each other and only loads limit the loop. */
        private float sum(long from, long to) {
            long step = SPECIES.vectorByteSize();
            FloatVector a = FloatVector.zero(SPECIES);
            FloatVector b = a;
            FloatVector c = a;
            FloatVector d = a;
            for (long offset = from; offset + 4 * step <= to; offset += 4 * step) {
                a = a.add(FloatVector.fromMemorySegment(SPECIES, segment, offset, ByteOrder.nativeOrder()));
                b = b.add(FloatVector.fromMemorySegment(SPECIES, segment, offset + step, ByteOrder.nativeOrder()));
                c = c.add(FloatVector.fromMemorySegment(SPECIES, segment, offset + 2 * step,
                        ByteOrder.nativeOrder()));
                d = d.add(FloatVector.fromMemorySegment(SPECIES, segment, offset + 3 * step,
                        ByteOrder.nativeOrder()));
            }
            return a.add(b).add(c).add(d).reduceLanes(VectorOperators.ADD);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            System.out.printf("%nDecodeStepBench.streamRead: %.2f GB/s over %d reads of 1 GiB, %d threads%n",
                    BYTES * (double) calls / nanos, calls, threads);
            pool.shutdown();
            arena.close();
        }
    }

    @Benchmark
    public Tensor decodeStep(Step s) {
        long start = System.nanoTime();
        s.fixture.step(s.backend, s.position);
        s.backend.synchronize();
        s.position = (s.position + 1) % DecodeFixture.NEW_TOKENS;
        long elapsed = System.nanoTime() - start;
        s.nanos += elapsed;
        s.calls++;
        s.windowNanos += elapsed;
        s.windowSteps++;
        return s.fixture.buffers().logits();
    }

    @Benchmark
    public float streamRead(Stream s) throws InterruptedException, ExecutionException {
        long start = System.nanoTime();
        float total = s.read();
        s.nanos += System.nanoTime() - start;
        s.calls++;
        return total;
    }

    /**
     * Bytes of every weight one step reads: 6 decoder layers (cross K/V projections excluded) and the LM head, the
     * matrices at {@code matrixBytes} per element (2 in bf16 mode), biases and norms in F32.
     */
    static long stepWeightBytes(TextConfig c, int matrixBytes) {
        long d = c.dModel();
        long ffn = c.decoderFfnDim();
        long matrices = c.decoderLayers() * (6 * d * d + 2 * d * ffn) + (long) c.vocabSize() * d;
        long vectors = c.decoderLayers() * (6 * d + ffn + d + 3 * 2 * d) + c.vocabSize() + 2 * d;
        return matrices * matrixBytes + vectors * Float.BYTES;
    }
}
