package org.florence2j.bench.e2e;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.florence2j.backend.cuda.ConvolutionPath;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.Cudnn;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Issue 7.2 ("convolutions through cuDNN, or implicit GEMM where faster: measure"): {@link CudaBackend}'s two
 * convolution paths, {@link ConvolutionPath#IM2COL} and {@link ConvolutionPath#CUDNN}, timed on the same seeded
 * inputs at the convolution shapes of Florence-2-base's DaViT on a 768×768 image. {@code config-base.json} gives
 * {@code patch_size [7, 3, 3, 3]}, {@code patch_stride [4, 2, 2, 2]}, {@code patch_padding [3, 1, 1, 1]} and
 * {@code dim_embed [128, 256, 512, 1024]}; {@code ConvEmbed} runs them through {@code conv2d} (stage 1 from the 3
 * pixel channels at 768², the others from the previous stage's map), and every block's {@code DepthWiseConv2d}
 * through {@code depthwiseConv3x3Residual} (stage 1 at 192²×128; stage 3, 36 of them per image, at 48²×512).
 *
 * <p>Per shape and path: {@value #WARM_UP} warm-up calls (cuDNN plans its algorithm on the first), then the mean of
 * {@code runs} calls between two device synchronisations, in milliseconds; and how far apart the two paths'
 * outputs are, as the largest absolute difference over the largest absolute output.
 */
final class ConvolutionPathBench {
    private static final int WARM_UP = 3;

    /** One convolution: a {@code size × size} map, square kernel; depthwise means {@code in == out} groups. */
    record Case(String name, int size, int inChannels, int outChannels, int kernel, int stride, int padding,
            boolean depthwise) {
        int outSize() {
            return (size + 2 * padding - kernel) / stride + 1;
        }
    }

    /** Florence-2-base's DaViT convolutions at 768×768. */
    static final List<Case> BASE_768 = List.of(
            new Case("stage1 conv 7x7/4 3->128 @768^2", 768, 3, 128, 7, 4, 3, false),
            new Case("stage2 conv 3x3/2 128->256 @192^2", 192, 128, 256, 3, 2, 1, false),
            new Case("stage3 conv 3x3/2 256->512 @96^2", 96, 256, 512, 3, 2, 1, false),
            new Case("stage4 conv 3x3/2 512->1024 @48^2", 48, 512, 1024, 3, 2, 1, false),
            new Case("stage1 dwconv 3x3 128 @192^2", 192, 128, 128, 3, 1, 1, true),
            new Case("stage3 dwconv 3x3 512 @48^2", 48, 512, 512, 3, 1, 1, true));

    /** One path's results: ms per call and downloaded output per case, or why the path could not open. */
    private record PathRun(double[] msPerCall, List<float[]> outputs, String unavailable) {
    }

    private ConvolutionPathBench() {}

    /** Times both paths on CUDA device {@code ordinal} and prints one row per case. */
    static void run(int ordinal, int runs) {
        PathRun im2col = time(ordinal, ConvolutionPath.IM2COL, runs);
        PathRun cudnn = time(ordinal, ConvolutionPath.CUDNN, runs);
        System.out.printf("Convolution paths on cuda:%d, ms per call (mean of %d after %d warm-up calls)%n", ordinal,
                runs, WARM_UP);
        if (im2col.unavailable() != null) {
            System.out.println("im2col path unavailable: " + im2col.unavailable());
            return;
        }
        System.out.println(cudnn.unavailable() == null ? "cuDNN version " + Cudnn.getVersion()
                : "cuDNN path unavailable: " + cudnn.unavailable());
        System.out.printf("%-36s %10s %10s %15s %14s%n", "case", "im2col_ms", "cudnn_ms", "faster", "max|d|/max|y|");
        for (int i = 0; i < BASE_768.size(); i++) {
            double slow = im2col.msPerCall()[i];
            if (cudnn.unavailable() != null) {
                System.out.printf(Locale.ROOT, "%-36s %10.3f %10s %15s %14s%n", BASE_768.get(i).name(), slow, "-",
                        "-", "-");
                continue;
            }
            double fast = cudnn.msPerCall()[i];
            String faster = fast < slow ? String.format(Locale.ROOT, "cudnn x%.2f", slow / fast)
                    : String.format(Locale.ROOT, "im2col x%.2f", fast / slow);
            System.out.printf(Locale.ROOT, "%-36s %10.3f %10.3f %15s %14.2e%n", BASE_768.get(i).name(), slow, fast,
                    faster, relativeDifference(im2col.outputs().get(i), cudnn.outputs().get(i)));
        }
    }

    private static PathRun time(int ordinal, ConvolutionPath path, int runs) {
        try (CudaBackend backend = CudaBackend.open(ordinal, path)) {
            double[] msPerCall = new double[BASE_768.size()];
            List<float[]> outputs = new ArrayList<>();
            for (int i = 0; i < BASE_768.size(); i++) {
                Case c = BASE_768.get(i);
                // Device memory closes before the backend, whose context owns it.
                try (Arena arena = Arena.ofConfined()) {
                    Tensor x = random(backend, arena, 1, Shape.of(1, c.size() * c.size(), c.inChannels()));
                    Tensor weight = random(backend, arena, 2,
                            Shape.of(c.outChannels(), c.depthwise() ? 1 : c.inChannels(), c.kernel(), c.kernel()));
                    Tensor bias = random(backend, arena, 3, Shape.of(c.outChannels()));
                    Tensor out = backend.allocate(DType.F32,
                            Shape.of(1, c.outSize() * c.outSize(), c.outChannels()), arena);
                    for (int run = 0; run < WARM_UP; run++) {
                        convolve(backend, c, out, x, weight, bias);
                    }
                    backend.synchronize();
                    long start = System.nanoTime();
                    for (int run = 0; run < runs; run++) {
                        convolve(backend, c, out, x, weight, bias);
                    }
                    backend.synchronize();
                    msPerCall[i] = (System.nanoTime() - start) / 1e6 / runs;
                    Tensor host = Tensor.allocateHost(DType.F32, out.shape(), arena);
                    backend.download(out, host);
                    outputs.add(host.toFloatArray());
                }
            }
            return new PathRun(msPerCall, outputs, null);
        } catch (NativeLibraryException | CudaException e) {
            return new PathRun(null, null, e.getMessage());
        }
    }

    private static void convolve(CudaBackend backend, Case c, Tensor out, Tensor x, Tensor weight, Tensor bias) {
        if (c.depthwise()) {
            backend.depthwiseConv3x3Residual(out, x, c.size(), c.size(), weight, bias);
        } else {
            backend.conv2d(out, x, c.size(), c.size(), weight, bias, c.stride(), c.padding());
        }
    }

    /** Seeded values in [-1, 1) on the device. */
    private static Tensor random(CudaBackend backend, Arena arena, long seed, Shape shape) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[Math.toIntExact(shape.elementCount())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return backend.upload(Tensor.ofFloats(shape, arena, values), DType.F32, arena);
    }

    private static double relativeDifference(float[] expected, float[] actual) {
        double largest = 0;
        double difference = 0;
        for (int i = 0; i < expected.length; i++) {
            largest = Math.max(largest, Math.abs(expected[i]));
            difference = Math.max(difference, Math.abs(expected[i] - actual[i]));
        }
        return largest == 0 ? difference : difference / largest;
    }
}
