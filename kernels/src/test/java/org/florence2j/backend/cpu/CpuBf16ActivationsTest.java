package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * BF16 activations between matmuls in the CPU backend's bf16 mode ({@code matmulActivationType}). Linear: a BF16
 * input is what the F32 path rounds its input to, and a BF16 output is what rounding the F32 output gives, so both
 * agree with the F32 forms exactly (an MLP's hidden layer handed over in bf16 changes no result). Packed-qkv
 * attention: the same math on the bf16-rounded q/k/v, with the probabilities rounded to bf16 for the second
 * matmul, within the bf16 kernel tolerance of the F32 op on the same rounded input.
 */
class CpuBf16ActivationsTest {
    private static final int ROWS = 37;
    private static final int IN = 96;
    private static final int OUT = 80;

    @Test
    void bf16InputAndOutputEqualTheRoundedF32Forms() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1, DType.BF16)) {
            assertEquals(DType.BF16, backend.matmulActivationType());
            Random random = new Random(7);
            Tensor x = random(arena, random, ROWS, IN);
            Tensor weight = backend.uploadLinearWeight(random(arena, random, OUT, IN), DType.F32, arena);
            Tensor bias = random(arena, random, OUT);
            Tensor xBf16 = Tensor.allocateHost(DType.BF16, Shape.of(ROWS, IN), arena);
            backend.copy(xBf16, x);

            Tensor fromF32 = Tensor.allocateHost(DType.F32, Shape.of(ROWS, OUT), arena);
            Tensor fromBf16 = Tensor.allocateHost(DType.F32, Shape.of(ROWS, OUT), arena);
            backend.linear(fromF32, x, weight, bias);
            backend.linear(fromBf16, xBf16, weight, bias);
            assertArrayEquals(fromF32.toFloatArray(), fromBf16.toFloatArray(), "BF16 x against F32 x");

            Tensor geluF32 = Tensor.allocateHost(DType.F32, Shape.of(ROWS, OUT), arena);
            Tensor geluBf16 = Tensor.allocateHost(DType.BF16, Shape.of(ROWS, OUT), arena);
            backend.linearGelu(geluF32, x, weight, bias);
            backend.linearGelu(geluBf16, x, weight, bias);
            Tensor rounded = Tensor.allocateHost(DType.BF16, Shape.of(ROWS, OUT), arena);
            backend.copy(rounded, geluF32);
            assertArrayEquals(rounded.toFloatArray(), geluBf16.toFloatArray(), "BF16 out against rounded F32 out");

            // linearResidual on a BF16 x: the linear's result added to out, in the order linear then add would.
            Tensor residual = random(arena, random, ROWS, OUT);
            Tensor expected = Tensor.allocateHost(DType.F32, Shape.of(ROWS, OUT), arena);
            backend.add(expected, residual, fromBf16);
            backend.linearResidual(residual, xBf16, weight, bias);
            assertArrayEquals(expected.toFloatArray(), residual.toFloatArray(), "linearResidual on a BF16 x");
        }
    }

    /**
     * An F32 backend given a weight uploaded for BF16 (the decoder's per-step weights under
     * {@code Florence2Options.bf16Decoder}) runs that linear exactly as bf16 mode does, for a step's few rows and a
     * large input alike, while a weight uploaded for F32 on the same backend stays F32.
     */
    @Test
    void anF32BackendRunsABf16WeightAsBf16ModeDoes() {
        try (Arena arena = Arena.ofConfined(); CpuBackend f32 = new CpuBackend(1, DType.F32);
                CpuBackend bf16 = new CpuBackend(1, DType.BF16); CpuBackend plainF32 = new CpuBackend(1, DType.F32)) {
            assertEquals(DType.F32, f32.matmulActivationType());
            Random random = new Random(11);
            Tensor host = random(arena, random, OUT, IN);
            Tensor bias = random(arena, random, OUT);
            Tensor mixedWeight = f32.uploadLinearWeight(host, DType.BF16, arena);
            Tensor bf16Weight = bf16.uploadLinearWeight(host, DType.F32, arena);
            Tensor f32Weight = f32.uploadLinearWeight(random(arena, new Random(11), OUT, IN), DType.F32, arena);
            Tensor plainWeight = plainF32.uploadLinearWeight(host, DType.F32, arena);
            for (int rows : new int[] {3, ROWS}) {
                Tensor x = random(arena, random, rows, IN);
                Tensor mixed = Tensor.allocateHost(DType.F32, Shape.of(rows, OUT), arena);
                Tensor expected = Tensor.allocateHost(DType.F32, Shape.of(rows, OUT), arena);
                Tensor exact = Tensor.allocateHost(DType.F32, Shape.of(rows, OUT), arena);
                f32.linearGelu(mixed, x, mixedWeight, bias);
                bf16.linearGelu(expected, x, bf16Weight, bias);
                f32.linearGelu(exact, x, f32Weight, bias);
                Tensor plain = Tensor.allocateHost(DType.F32, Shape.of(rows, OUT), arena);
                plainF32.linearGelu(plain, x, plainWeight, bias);
                assertArrayEquals(expected.toFloatArray(), mixed.toFloatArray(), rows + " rows");
                assertArrayEquals(plain.toFloatArray(), exact.toFloatArray(),
                        rows + " rows: the F32 weight beside a bf16 one must run as on an F32-only backend");
                assertFalse(Arrays.equals(expected.toFloatArray(), exact.toFloatArray()),
                        rows + " rows: the F32 weight must not be run in bf16");
            }
        }
    }

    /**
     * A small F32 input (a decoder step's) is rounded in Java by default and by a oneDNN reorder with
     * {@link CpuBackend#JAVA_DECODE_KERNELS_PROPERTY} false, and a large one by the reorder either way: each gives
     * the same product on both settings. The primitive counts show which path ran.
     */
    @Test
    void smallAndLargeInputsRoundAlikeOnBothPaths() {
        int largeRows = 700; // 700 × 96 F32 = 262 KB, past the one-thread size the Java rounding takes
        float[][] small = new float[2][];
        float[][] large = new float[2][];
        for (boolean javaKernels : new boolean[] {true, false}) {
            System.setProperty(CpuBackend.JAVA_DECODE_KERNELS_PROPERTY, Boolean.toString(javaKernels));
            try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1, DType.BF16)) {
                int path = javaKernels ? 0 : 1;
                Random random = new Random(5);
                Tensor weight = backend.uploadLinearWeight(random(arena, random, OUT, IN), DType.F32, arena);
                Tensor x = random(arena, random, largeRows, IN);
                Tensor smallX = Tensor.wrap(DType.F32, Shape.of(3, IN), x.device(),
                        x.memory().asSlice(0, 3L * IN * Float.BYTES));
                Tensor smallOut = Tensor.allocateHost(DType.F32, Shape.of(3, OUT), arena);
                int before = backend.cachedPrimitives();
                backend.linear(smallOut, smallX, weight, null);
                assertEquals(javaKernels ? 1 : 2, backend.cachedPrimitives() - before,
                        "primitives for a 3-row linear with Java decode kernels " + javaKernels
                                + " (the matmul, and the rounding's reorder without them)");
                small[path] = smallOut.toFloatArray();
                Tensor largeOut = Tensor.allocateHost(DType.F32, Shape.of(largeRows, OUT), arena);
                backend.linear(largeOut, x, weight, null);
                large[path] = largeOut.toFloatArray();
            } finally {
                System.clearProperty(CpuBackend.JAVA_DECODE_KERNELS_PROPERTY);
            }
        }
        assertArrayEquals(small[1], small[0], "a small input rounded in Java against the reorder");
        assertArrayEquals(large[1], large[0], "a large input, rounded by the reorder on both");
    }

    @Test
    void packedQkvAttentionOnBf16MatchesF32() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1, DType.BF16)) {
            Random random = new Random(9);
            // Windows of 144 tokens, 4 heads of 32; channel attention over 100 tokens in 4 groups.
            checkPackedQkv(arena, backend, random(arena, random, 3, 144, 3 * 128), (b, out, qkv) ->
                    b.selfAttention(out, qkv, 4, (float) Math.pow(32, -0.5)));
            checkPackedQkv(arena, backend, random(arena, random, 2, 100, 3 * 64), (b, out, qkv) ->
                    b.channelAttention(out, qkv, 4, (float) Math.pow(100, -0.5)));
        }
    }

    private interface PackedQkvOp {
        void run(CpuBackend backend, Tensor out, Tensor qkv);
    }

    /** Runs {@code op} on the bf16-rounded {@code qkv} as F32 and as BF16 and compares the outputs. */
    private static void checkPackedQkv(Arena arena, CpuBackend backend, Tensor qkv, PackedQkvOp op) {
        Shape outShape = qkv.shape().withDim(-1, qkv.shape().last() / 3);
        Tensor qkvBf16 = Tensor.allocateHost(DType.BF16, qkv.shape(), arena);
        backend.copy(qkvBf16, qkv);
        Tensor rounded = Tensor.allocateHost(DType.F32, qkv.shape(), arena);
        backend.copy(rounded, qkvBf16);
        Tensor expected = Tensor.allocateHost(DType.F32, outShape, arena);
        op.run(backend, expected, rounded);
        Tensor outBf16 = Tensor.allocateHost(DType.BF16, outShape, arena);
        op.run(backend, outBf16, qkvBf16);
        Tensor actual = Tensor.allocateHost(DType.F32, outShape, arena);
        backend.copy(actual, outBf16);
        Tolerance.KERNEL_BF16.assertClose("packed-qkv attention on BF16 " + qkv.shape(), expected, actual);
    }

    /**
     * A patch embedding on a BF16 input: the convolution of the bf16-rounded input and weights, accumulated in F32,
     * so within F32 rounding of the same convolution run on the rounded values as F32. An F32 input keeps the F32
     * kernel, whose result differs from the rounded one by more than that.
     */
    @Test
    void conv2dOnBf16InputIsTheConvolutionOfTheRoundedValues() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1, DType.BF16);
                CpuBackend f32 = new CpuBackend(1)) {
            Random random = new Random(13);
            // An 11×9 map of 64 channels, a 3×3 stride-2 embedding into 48 (DaViT's later stages, small).
            int height = 11;
            int width = 9;
            Tensor x = random(arena, random, 1, height * width, 64);
            Tensor weight = random(arena, random, 48, 64, 3, 3);
            for (long i = 0; i < weight.elementCount(); i++) {
                weight.setFloat(i, weight.getFloat(i) / 24); // outputs of order 1: 1/√(64·3·3)
            }
            Tensor bias = random(arena, random, 48);
            Tensor xBf16 = Tensor.allocateHost(DType.BF16, x.shape(), arena);
            backend.copy(xBf16, x);
            Tensor weightBf16 = Tensor.allocateHost(DType.BF16, weight.shape(), arena);
            backend.copy(weightBf16, weight);
            Tensor roundedX = Tensor.allocateHost(DType.F32, x.shape(), arena);
            backend.copy(roundedX, xBf16);
            Tensor roundedWeight = Tensor.allocateHost(DType.F32, weight.shape(), arena);
            backend.copy(roundedWeight, weightBf16);

            Shape outShape = Shape.of(1, 6 * 5, 48);
            Tensor expected = Tensor.allocateHost(DType.F32, outShape, arena);
            f32.conv2d(expected, roundedX, height, width, roundedWeight, bias, 2, 1);
            Tensor actual = Tensor.allocateHost(DType.F32, outShape, arena);
            backend.conv2d(actual, xBf16, height, width, backend.uploadConvWeight(weight, arena), bias, 2, 1);
            Tolerance.KERNEL_F32.assertClose("bf16 conv2d against F32 on the rounded values", expected, actual);

            Tensor fromF32Input = Tensor.allocateHost(DType.F32, outShape, arena);
            backend.conv2d(fromF32Input, x, height, width, weight, bias, 2, 1);
            Tensor unrounded = Tensor.allocateHost(DType.F32, outShape, arena);
            f32.conv2d(unrounded, x, height, width, weight, bias, 2, 1);
            Tolerance.KERNEL_F32.assertClose("bf16 mode's conv2d on an F32 input", unrounded, fromF32Input);
            assertThrows(AssertionError.class, () -> Tolerance.KERNEL_F32.assertClose("rounded against unrounded",
                    unrounded, actual), "the rounding is large enough to tell the two kernels apart");

            // An F32-mode backend refuses a BF16 input.
            assertThrows(IllegalArgumentException.class,
                    () -> f32.conv2d(expected, xBf16, height, width, weight, bias, 2, 1));
        }
    }

    @Test
    void layerNormWritesTheRoundedF32ResultAndWindowsMoveBf16Unchanged() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1, DType.BF16)) {
            Random random = new Random(11);
            // A 10×7 map of 24 channels in windows of 4: padding on both sides.
            Tensor x = random(arena, random, 1, 70, 24);
            Tensor weight = random(arena, random, 24);
            Tensor bias = random(arena, random, 24);
            Tensor normedF32 = Tensor.allocateHost(DType.F32, x.shape(), arena);
            Tensor normedBf16 = Tensor.allocateHost(DType.BF16, x.shape(), arena);
            backend.layerNorm(normedF32, x, weight, bias, 1e-5f);
            backend.layerNorm(normedBf16, x, weight, bias, 1e-5f);
            Tensor rounded = Tensor.allocateHost(DType.BF16, x.shape(), arena);
            backend.copy(rounded, normedF32);
            assertArrayEquals(rounded.toFloatArray(), normedBf16.toFloatArray(), "BF16 layer norm against rounded F32");

            Shape windowed = Shape.of(3 * 2, 16, 24);
            Tensor windowsF32 = Tensor.allocateHost(DType.F32, windowed, arena);
            Tensor windowsBf16 = Tensor.allocateHost(DType.BF16, windowed, arena);
            Tensor roundedF32 = Tensor.allocateHost(DType.F32, x.shape(), arena);
            backend.copy(roundedF32, rounded);
            backend.windowPartition(windowsF32, roundedF32, 10, 7, 4);
            backend.windowPartition(windowsBf16, normedBf16, 10, 7, 4);
            assertArrayEquals(windowsF32.toFloatArray(), windowsBf16.toFloatArray(), "BF16 window partition");
            Tensor back = Tensor.allocateHost(DType.BF16, x.shape(), arena);
            backend.windowReverse(back, windowsBf16, 10, 7, 4);
            assertArrayEquals(rounded.toFloatArray(), back.toFloatArray(), "BF16 window reverse");

            // Mixed dtypes on the two sides of a window layout, or a bf16 norm over its own input, are refused.
            assertThrows(IllegalArgumentException.class, () -> backend.windowPartition(windowsBf16, x, 10, 7, 4));
            Tensor overlapping = Tensor.wrap(DType.BF16, x.shape(), x.device(),
                    x.memory().asSlice(0, x.elementCount() * 2));
            assertThrows(IllegalArgumentException.class,
                    () -> backend.layerNorm(overlapping, x, weight, bias, 1e-5f));
        }
    }

    @Test
    void bf16ActivationsAreRefusedWhereTheMatmulWouldNotReadThem() {
        try (Arena arena = Arena.ofConfined(); CpuBackend f32 = new CpuBackend(1);
                CpuBackend bf16 = new CpuBackend(1, DType.BF16)) {
            assertEquals(DType.F32, f32.matmulActivationType());
            Random random = new Random(8);
            Tensor xBf16 = Tensor.allocateHost(DType.BF16, Shape.of(ROWS, IN), arena);
            Tensor out = Tensor.allocateHost(DType.F32, Shape.of(ROWS, OUT), arena);
            Tensor plainWeight = random(arena, random, OUT, IN);
            // F32 mode: the checks refuse BF16 activations.
            assertThrows(IllegalArgumentException.class,
                    () -> f32.linear(out, xBf16, f32.uploadLinearWeight(plainWeight, DType.F32, arena), null));
            Tensor norm = random(arena, random, IN);
            assertThrows(IllegalArgumentException.class,
                    () -> f32.layerNorm(xBf16, random(arena, random, ROWS, IN), norm, norm, 1e-5f));
            // bf16 mode, but a weight that was never packed: no bf16 kernel reads it with a bf16 input.
            var error = assertThrows(IllegalArgumentException.class,
                    () -> bf16.linear(out, xBf16, random(arena, random, OUT, IN), null));
            assertTrue(error.getMessage().contains("uploadLinearWeight"), error.getMessage());
        }
    }

    private static Tensor random(Arena arena, Random random, int... dims) {
        Tensor tensor = Tensor.allocateHost(DType.F32, Shape.of(dims), arena);
        for (long i = 0; i < tensor.elementCount(); i++) {
            tensor.setFloat(i, random.nextFloat() * 2 - 1);
        }
        return tensor;
    }
}
