package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.stream.Stream;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Window partition/reverse, convolutions and layout changes on feature maps against the reference. */
class CpuSpatialOpsTest {
    static Stream<Arguments> maps() {
        // batch, height, width, channels, window: exact multiples, maps smaller than the window, ragged edges
        return Stream.of(Arguments.of(1, 24, 24, 8, 12), Arguments.of(2, 13, 7, 5, 4), Arguments.of(1, 3, 5, 3, 7),
                Arguments.of(2, 1, 1, 4, 2));
    }

    @ParameterizedTest
    @MethodSource("maps")
    void windowPartitionAndReverseMatchReference(int batch, int height, int width, int channels, int window) {
        try (var t = new CpuVsReference(21)) {
            Tensor x = t.random(1, batch, height * width, channels);
            int windows = batch * ((height + window - 1) / window) * ((width + window - 1) / window);
            int[] windowDims = {windows, window * window, channels};
            t.check("windowPartition", Tolerance.KERNEL_F32, windowDims,
                    (backend, o) -> backend.windowPartition(o, x, height, width, window));
            Tensor partitioned = t.random(1, windowDims);
            t.check("windowReverse", Tolerance.KERNEL_F32, new int[] {batch, height * width, channels},
                    (backend, o) -> backend.windowReverse(o, partitioned, height, width, window));
        }
    }

    @ParameterizedTest
    @MethodSource("maps")
    void depthwiseConvResidualMatchesReference(int batch, int height, int width, int channels, int window) {
        try (var t = new CpuVsReference(22)) {
            Tensor x = t.random(1, batch, height * width, channels);
            Tensor weight = t.random(0.3f, channels, 1, 3, 3);
            Tensor bias = t.random(1, channels);
            t.check("depthwiseConv3x3Residual", Tolerance.KERNEL_F32, new int[] {batch, height * width, channels},
                    (backend, o) -> backend.depthwiseConv3x3Residual(o, x, height, width, weight, bias));
        }
    }

    static Stream<Arguments> convs() {
        // batch, height, width, inChannels, outChannels, kernel, stride, padding: DaViT's patch embeddings
        return Stream.of(Arguments.of(1, 32, 32, 3, 16, 7, 4, 3), Arguments.of(2, 11, 9, 5, 7, 3, 2, 1),
                Arguments.of(1, 3, 3, 4, 6, 3, 2, 1), Arguments.of(1, 30, 26, 3, 8, 7, 4, 3));
    }

    @ParameterizedTest
    @MethodSource("convs")
    void conv2dMatchesReference(int batch, int height, int width, int in, int out, int kernel, int stride,
            int padding) {
        try (var t = new CpuVsReference(23)) {
            Tensor x = t.random(1, batch, height * width, in);
            Tensor weight = t.random((float) (1 / Math.sqrt(in * kernel * kernel)), out, in, kernel, kernel);
            Tensor bias = t.random(1, out);
            int outHeight = (height + 2 * padding - kernel) / stride + 1;
            int outWidth = (width + 2 * padding - kernel) / stride + 1;
            int[] outDims = {batch, outHeight * outWidth, out};
            t.check("conv2d", Tolerance.KERNEL_F32, outDims,
                    (backend, o) -> backend.conv2d(o, x, height, width, weight, bias, stride, padding));
            t.check("conv2d without bias", Tolerance.KERNEL_F32, outDims,
                    (backend, o) -> backend.conv2d(o, x, height, width, weight, null, stride, padding));
            Tensor bf16 = t.cpu.upload(weight, DType.BF16, t.arena);
            t.check("conv2d BF16 weight", Tolerance.KERNEL_BF16, outDims, (backend, o) -> backend.conv2d(o, x,
                    height, width, backend == t.cpu ? bf16 : weight, bias, stride, padding));
        }
    }

    /**
     * An uploaded weight is packed once and kept: repeated calls, calls alternating between two geometries and the
     * per-call packing of the same values all give the same output; a copy whose weight was freed is dropped.
     */
    @Test
    void uploadedConvWeightsArePackedOnceAndDroppedWithTheirWeight() {
        try (var t = new CpuVsReference(25)) {
            Arena weights = Arena.ofConfined(); // closed below, while the backend lives on
            Tensor plain = t.random(0.2f, 16, 8, 3, 3);
            Tensor stored = Tensor.allocateHost(DType.BF16, plain.shape(), weights);
            t.cpu.copy(stored, plain);
            Tensor uploaded = t.cpu.uploadConvWeight(stored, weights);
            Tensor perCall = Tensor.allocateHost(DType.BF16, plain.shape(), t.arena);
            t.cpu.copy(perCall, stored);
            Tensor bias = t.random(1, 16);
            for (int[] map : new int[][] {{1, 11, 9}, {2, 6, 14}, {1, 11, 9}, {2, 6, 14}}) {
                int batch = map[0];
                int height = map[1];
                int width = map[2];
                Tensor x = t.random(1, batch, height * width, 8);
                Shape outShape = Shape.of(batch, ((height - 1) / 2 + 1) * ((width - 1) / 2 + 1), 16);
                Tensor fromUploaded = t.zeros(outShape.dims());
                Tensor fromPerCall = t.zeros(outShape.dims());
                t.cpu.conv2d(fromUploaded, x, height, width, uploaded, bias, 2, 1);
                t.cpu.conv2d(fromPerCall, x, height, width, perCall, bias, 2, 1);
                assertArrayEquals(fromPerCall.toFloatArray(), fromUploaded.toFloatArray(),
                        "packed once against packed per call, map " + Arrays.toString(map));
            }
            assertEquals(1, t.cpu.packedConvolutionWeights());
            weights.close();
            t.cpu.uploadConvWeight(t.random(0.2f, 4, 2, 3, 3), t.arena);
            assertEquals(0, t.cpu.packedConvolutionWeights(), "the freed weight's packed copy is dropped");
        }
    }

    @ParameterizedTest
    @MethodSource("maps")
    void channelsLastAndMeanTokensMatchReference(int batch, int height, int width, int channels, int window) {
        try (var t = new CpuVsReference(24)) {
            Tensor pixels = t.random(1, batch, channels, height, width);
            t.check("channelsLast", Tolerance.KERNEL_F32, new int[] {batch, height * width, channels},
                    (backend, o) -> backend.channelsLast(o, pixels));
            Tensor x = t.random(1, batch, height * width, channels);
            t.check("meanTokens", Tolerance.KERNEL_F32, new int[] {batch, 1, channels},
                    (backend, o) -> backend.meanTokens(o, x));
        }
    }
}
