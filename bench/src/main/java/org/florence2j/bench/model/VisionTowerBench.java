package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.florence2j.backend.Backend;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.Taps;
import org.florence2j.model.vision.DaViT;
import org.florence2j.model.vision.ImageProjector;
import org.florence2j.model.vision.VisionScratch;
import org.florence2j.tensor.DType;
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
 * The vision tower (DaViT) plus the image projection on one 768×768 image, Florence-2-base shapes, random weights
 * from {@link RandomBaseFolder}, and in the same run the machine's matmul peak: a square
 * {@code 2048 × 2048 × 2048} {@link Backend#linear} (one oneDNN matmul on a packed weight, large enough to run at
 * peak). Both run per {@code dtype}: {@code f32}, and {@code bf16} (the backend's bf16 mode, bf16 products with f32
 * accumulation; its peak is the bf16 matmul peak).
 *
 * <p>At tear-down each prints GFLOP/s: the tower's FLOPs are {@link FlopCount#visionTower} (every matmul and conv
 * of the config); the ratio tower ÷ peak is issue 6's first figure. As in {@code Session.generate}, the tower's
 * activation buffers ({@code VisionScratch}) are made once and reused; the few small ones of the projection are
 * allocated per call in a request arena.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx2g"})
@State(Scope.Benchmark)
public class VisionTowerBench {
    private static final int IMAGE_SIDE = 768;
    private static final int PEAK_SIZE = 2048;

    /** The backend's compute type: {@code f32}, or {@code bf16} (bf16 products, f32 accumulation). */
    @Param({"f32", "bf16"})
    public String dtype;

    /** The loaded tower and projection with one random image. */
    @State(Scope.Benchmark)
    public static class Tower {
        private LoadedCheckpoint checkpoint;
        private Backend backend;
        private Arena weights;
        private DaViT davit;
        private ImageProjector projector;
        private Tensor pixels;
        private VisionScratch scratch;
        private String dtype;
        private long flops;
        private long calls;
        private long nanos;

        @Setup(Level.Trial)
        public void setUp(VisionTowerBench bench) {
            checkpoint = Checkpoints.open(RandomBaseFolder.get(DType.F32));
            Florence2Config config = checkpoint.config();
            dtype = bench.dtype;
            backend = BenchModel.backend(dtype);
            weights = Arena.ofShared();
            Weights root = Weights.of(checkpoint.checkpoint());
            davit = DaViT.load(root.at("vision_tower"), config.vision(), backend, weights);
            projector = ImageProjector.load(root, config, backend, weights);
            pixels = BenchModel.random(backend, weights, 7, Shape.of(1, 3, IMAGE_SIDE, IMAGE_SIDE));
            scratch = davit.newScratch(new ForwardContext(backend, weights, Taps.NONE), 1, IMAGE_SIDE, IMAGE_SIDE);
            flops = FlopCount.visionTower(config.vision(), config.projectionDim(), IMAGE_SIDE);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            System.out.printf("%nVisionTowerBench.visionTower %s: %.2f GFLOP per image, %.1f GFLOP/s over %d calls,"
                    + " %d threads%n", dtype, flops / 1e9, flops * (double) calls / nanos, calls,
                    BenchModel.threads());
            backend.close();
            weights.close();
            checkpoint.close();
        }
    }

    /** Operands of the peak sgemm. */
    @State(Scope.Benchmark)
    public static class Peak {
        private Arena arena;
        private Backend backend;
        private Tensor x;
        private Tensor weight;
        private Tensor out;
        private String dtype;
        private long calls;
        private long nanos;

        @Setup(Level.Trial)
        public void setUp(VisionTowerBench bench) {
            arena = Arena.ofShared();
            dtype = bench.dtype;
            backend = BenchModel.backend(dtype);
            x = BenchModel.random(backend, arena, 1, Shape.of(PEAK_SIZE, PEAK_SIZE));
            weight = backend.uploadLinearWeight(BenchModel.random(backend, arena, 2, Shape.of(PEAK_SIZE, PEAK_SIZE)),
                    DType.F32, arena);
            out = backend.allocate(DType.F32, Shape.of(PEAK_SIZE, PEAK_SIZE), arena);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            double flops = 2.0 * PEAK_SIZE * PEAK_SIZE * PEAK_SIZE;
            System.out.printf("%nVisionTowerBench.peakSgemm %s: %.1f GFLOP/s over %d calls, %d threads%n",
                    dtype, flops * calls / nanos, calls, BenchModel.threads());
            backend.close();
            arena.close();
        }
    }

    @Benchmark
    public Tensor visionTower(Tower t) {
        long start = System.nanoTime();
        Tensor features;
        try (Arena request = Arena.ofShared()) {
            ForwardContext ctx = new ForwardContext(t.backend, request, Taps.NONE);
            Tensor davitOut = ctx.allocate(t.davit.outputShape(1, IMAGE_SIDE, IMAGE_SIDE));
            t.davit.forward(ctx, t.pixels, davitOut, t.scratch);
            features = ctx.allocate(t.projector.outputShape(1, davitOut.shape().dim(1)));
            int side = t.davit.outputSize(IMAGE_SIDE);
            t.projector.forward(ctx, davitOut, side, side, features);
            t.backend.synchronize();
        }
        t.nanos += System.nanoTime() - start;
        t.calls++;
        return features;
    }

    @Benchmark
    public Tensor peakSgemm(Peak p) {
        long start = System.nanoTime();
        p.backend.linear(p.out, p.x, p.weight, null);
        p.nanos += System.nanoTime() - start;
        p.calls++;
        return p.out;
    }
}
