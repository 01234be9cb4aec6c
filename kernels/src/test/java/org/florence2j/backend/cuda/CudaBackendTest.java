package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.stream.Stream;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Tolerance;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every {@link CudaBackend} op against {@code ReferenceBackend} on seeded random inputs, at awkward shapes (odd
 * sizes, padding, shared K/V, a partly filled cache). Without a GPU or the CUDA libraries every case aborts with
 * the reason.
 */
class CudaBackendTest {
    static Stream<Arguments> weightTypes() {
        return Stream.of(Arguments.of(DType.F32, Tolerance.KERNEL_F32), Arguments.of(DType.F16, Tolerance.KERNEL_F16),
                Arguments.of(DType.BF16, Tolerance.KERNEL_BF16));
    }

    @ParameterizedTest
    @MethodSource("weightTypes")
    void linearWithAndWithoutBias(DType weightType, Tolerance tolerance) {
        try (var t = new CudaVsReference(1)) {
            Tensor x = t.random(0.5f, 2, 5, 48);
            Tensor weight = t.random(weightType, 0.5f, 33, 48);
            Tensor bias = t.random(weightType, 0.5f, 33);
            t.check("linear", tolerance, null, new int[] {2, 5, 33},
                    (b, out, in) -> b.linear(out, in[0], in[1], in[2]), x, weight, bias);
            t.check("linear no bias", tolerance, null, new int[] {2, 5, 33},
                    (b, out, in) -> b.linear(out, in[0], in[1], null), x, weight);
            t.check("linearResidual", tolerance, t.random(1f, 2, 5, 33), new int[] {2, 5, 33},
                    (b, out, in) -> b.linearResidual(out, in[0], in[1], in[2]), x, weight, bias);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void matmulWithSharedOrPerBatchRightHandSide(int rightBatch) {
        try (var t = new CudaVsReference(2)) {
            t.check("matmul", new int[] {3, 7, 9}, (b, out, in) -> b.matmul(out, in[0], in[1]),
                    t.random(1f, 3, 7, 11), t.random(1f, rightBatch, 11, 9));
        }
    }

    /** A device beyond the visible ones is the machine's problem, typed as CUDA's own error, naming the count. */
    @Test
    void aDeviceBeyondTheVisibleOnesIsACudaError() {
        CudaVsReference.openOrAbort().close();
        var missing = assertThrows(CudaException.class, () -> CudaBackend.open(999));
        assertEquals("cudaErrorInvalidDevice", missing.statusName());
        assertTrue(missing.getMessage().startsWith("opening cuda:999 (") && !missing.getMessage().contains("\n"),
                "one line naming the device and those visible: " + missing.getMessage());
    }

    @Test
    void layerNormGeluSoftmaxAndAdd() {
        try (var t = new CudaVsReference(3)) {
            Tensor x = t.random(2f, 2, 9, 37);
            t.check("layerNorm", new int[] {2, 9, 37},
                    (b, out, in) -> b.layerNorm(out, in[0], in[1], in[2], 1e-5f), x, t.random(1f, 37),
                    t.random(1f, 37));
            t.check("layerNorm in place", Tolerance.KERNEL_F32, x, new int[] {2, 9, 37},
                    (b, out, in) -> b.layerNorm(out, out, in[0], in[1], 1e-5f), t.random(1f, 37), t.random(1f, 37));
            t.check("gelu", new int[] {2, 9, 37}, (b, out, in) -> b.gelu(out, in[0]), t.random(6f, 2, 9, 37));
            t.check("softmax", new int[] {4, 300}, (b, out, in) -> b.softmax(out, in[0]), t.random(8f, 4, 300));
            t.check("add broadcast", new int[] {2, 9, 37}, (b, out, in) -> b.add(out, in[0], in[1]),
                    t.random(1f, 2, 9, 37), t.random(1f, 9, 37));
            t.check("add bf16", Tolerance.KERNEL_BF16, null, new int[] {2, 9, 37},
                    (b, out, in) -> b.add(out, in[0], in[1]), t.random(1f, 2, 9, 37), t.random(DType.BF16, 1f, 37));
        }
    }

    /**
     * DaViT's windows (12 × 12 tokens, head dimension 32) run on the window kernel, one block per window and head;
     * a head dimension of 64 takes its wider variant.
     */
    @Test
    void selfAttentionOverDavitWindows() {
        try (var t = new CudaVsReference(23)) {
            t.check("selfAttention", new int[] {4, 144, 64}, (b, out, in) -> b.selfAttention(out, in[0], 2, 0.18f),
                    t.random(1f, 4, 144, 192));
            t.check("selfAttention", new int[] {3, 49, 128}, (b, out, in) -> b.selfAttention(out, in[0], 2, 0.13f),
                    t.random(1f, 3, 49, 384));
            t.check("selfAttention", new int[] {3, 10, 24}, (b, out, in) -> b.selfAttention(out, in[0], 3, 0.35f),
                    t.random(1f, 3, 10, 72));
        }
    }

    /** Windows of more than 256 tokens keep the GEMMs: each GEMM one strided batch over the windows of one head. */
    @Test
    void selfAttentionPerHead() {
        try (var t = new CudaVsReference(4)) {
            t.check("selfAttention", new int[] {5, 260, 16}, (b, out, in) -> b.selfAttention(out, in[0], 2, 0.35f),
                    t.random(1f, 5, 260, 48));
            // A head dimension of 128, too wide for the window kernel.
            t.check("selfAttention", new int[] {2, 16, 256}, (b, out, in) -> b.selfAttention(out, in[0], 2, 0.09f),
                    t.random(1f, 2, 16, 768));
        }
    }

    @Test
    void selfAttentionOverFewerWindowsThanHeads() {
        try (var t = new CudaVsReference(17)) {
            // 2 windows of 300 tokens, 4 heads: each GEMM batches over the heads of one window.
            t.check("selfAttention", new int[] {2, 300, 32}, (b, out, in) -> b.selfAttention(out, in[0], 4, 0.35f),
                    t.random(1f, 2, 300, 96));
        }
    }

    /**
     * Attention of more query rows than a decode step's runs as GEMMs, batched over the heads of one row where rows
     * are fewer than heads and over the rows of one head otherwise (own or shared K/V); a decode step's few rows
     * run in one kernel, here with more keys than its block has threads and head sizes that fill no warp.
     */
    @Test
    void attentionOnEachPath() {
        try (var t = new CudaVsReference(18)) {
            t.check("attention, rows fewer than heads", new int[] {2, 6, 32},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 9, 4, 0.5f, AttentionMask.causal(3)),
                    t.random(1f, 2, 6, 32), t.random(1f, 2, 12, 32), t.random(1f, 2, 12, 32));
            t.check("attention, heads per row", new int[] {4, 5, 16},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 11, 2, 0.5f, AttentionMask.causal(6)),
                    t.random(1f, 4, 5, 16), t.random(1f, 4, 11, 16), t.random(1f, 4, 11, 16));
            t.check("attention shared, heads per image", new int[] {6, 5, 16},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 13, 2, 0.25f, AttentionMask.none()),
                    t.random(1f, 6, 5, 16), t.random(1f, 2, 13, 16), t.random(1f, 2, 13, 16));
            t.check("attentionTransposedKeys, rows fewer than heads", new int[] {2, 5, 32},
                    (b, out, in) -> b.attentionTransposedKeys(out, in[0], in[1], in[2], 13, 4, 0.25f),
                    t.random(1f, 2, 5, 32), t.random(1f, 1, 32, 15), t.random(1f, 1, 4, 15, 8));
            t.check("decode attention, long cache", new int[] {3, 1, 256},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 700, 2, 0.1f, AttentionMask.causal(650)),
                    t.random(1f, 3, 1, 256), t.random(1f, 3, 720, 256), t.random(1f, 3, 720, 256));
            t.check("decode attention, odd head size", new int[] {3, 3, 72},
                    (b, out, in) -> b.attentionTransposedKeys(out, in[0], in[1], in[2], 301, 3, 0.2f),
                    t.random(1f, 3, 3, 72), t.random(1f, 1, 72, 310), t.random(1f, 1, 3, 310, 24));
        }
    }

    @Test
    void causalAttentionOverPartlyFilledCache() {
        try (var t = new CudaVsReference(5)) {
            // 3 beams, each its own cache of capacity 12 holding 9 rows; 2 new queries after 7 past positions.
            t.check("attention causal", new int[] {3, 2, 16},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 9, 4, 0.5f, AttentionMask.causal(7)),
                    t.random(1f, 3, 2, 16), t.random(1f, 3, 12, 16), t.random(1f, 3, 12, 16));
        }
    }

    @Test
    void crossAttentionSharedByBeams() {
        try (var t = new CudaVsReference(6)) {
            // 2 images × 3 beams; K/V per image; every row valid.
            t.check("attention shared", new int[] {6, 1, 16},
                    (b, out, in) -> b.attention(out, in[0], in[1], in[2], 13, 2, 0.25f, AttentionMask.none()),
                    t.random(1f, 6, 1, 16), t.random(1f, 2, 13, 16), t.random(1f, 2, 13, 16));
        }
    }

    @Test
    void crossAttentionOnTransposedKeys() {
        try (var t = new CudaVsReference(16)) {
            // 2 images × 3 beams; keys transposed [images, channels, capacity 15], values head-major [images, 2 heads,
            // capacity 15, 8], 13 valid.
            t.check("attentionTransposedKeys", new int[] {6, 1, 16},
                    (b, out, in) -> b.attentionTransposedKeys(out, in[0], in[1], in[2], 13, 2, 0.25f),
                    t.random(1f, 6, 1, 16), t.random(1f, 2, 16, 15), t.random(1f, 2, 2, 15, 8));
            t.check("transposeKeys", new int[] {2, 16, 15}, (b, out, in) -> b.transposeKeys(out, in[0]),
                    t.random(1f, 2, 13, 16));
            t.check("headMajorValues", new int[] {2, 2, 15, 8}, (b, out, in) -> b.headMajorValues(out, in[0]),
                    t.random(1f, 2, 13, 16));
        }
    }

    @Test
    void channelAttentionPerGroup() {
        try (var t = new CudaVsReference(7)) {
            t.check("channelAttention", new int[] {2, 15, 24},
                    (b, out, in) -> b.channelAttention(out, in[0], 3, (float) Math.pow(15, -0.5)),
                    t.random(1f, 2, 15, 72));
        }
    }

    @Test
    void windowPartitionAndReverseWithPadding() {
        try (var t = new CudaVsReference(8)) {
            // 5×7 map, window 3: padded to 6×9, 2×3 windows per image.
            t.check("windowPartition", new int[] {12, 9, 4},
                    (b, out, in) -> b.windowPartition(out, in[0], 5, 7, 3), t.random(1f, 2, 35, 4));
            t.check("windowReverse", new int[] {2, 35, 4},
                    (b, out, in) -> b.windowReverse(out, in[0], 5, 7, 3), t.random(1f, 12, 9, 4));
        }
    }

    /** Whether cuDNN's convolutions open on device 0 (auto falls back to im2col where they do not). */
    private static boolean cudnnLoads() {
        try (CudaBackend withCudnn = CudaBackend.open(0, ConvolutionPath.CUDNN)) {
            return true;
        } catch (NativeLibraryException | CudaException e) {
            return false;
        }
    }

    /** The convolution paths (auto: cuDNN for the 7×7 kernel only), each with every weight dtype. */
    static Stream<Arguments> convolutionPathsAndWeightTypes() {
        return Stream.of(ConvolutionPath.CUDNN, ConvolutionPath.IM2COL, ConvolutionPath.AUTO)
                .flatMap(path -> weightTypes().map(types -> Arguments.of(path, types.get()[0], types.get()[1])));
    }

    @ParameterizedTest
    @MethodSource("convolutionPathsAndWeightTypes")
    void convolutions(ConvolutionPath path, DType weightType, Tolerance tolerance) {
        try (var t = new CudaVsReference(9, path)) {
            // auto runs everything on im2col where libcudnn does not load (cudnn aborts the test there).
            assertEquals(path == ConvolutionPath.AUTO && !cudnnLoads() ? ConvolutionPath.IM2COL : path,
                    t.cuda.convolutionPath());
            // Stage-1 style: kernel 7, stride 4, padding 3; later stages: kernel 3, stride 2, padding 1.
            t.check("conv2d 7/4/3", tolerance, null, new int[] {2, 9, 8},
                    (b, out, in) -> b.conv2d(out, in[0], 11, 10, in[1], in[2], 4, 3), t.random(0.5f, 2, 110, 3),
                    t.random(weightType, 0.5f, 8, 3, 7, 7), t.random(weightType, 0.5f, 8));
            t.check("conv2d 3/2/1 no bias", tolerance, null, new int[] {1, 12, 6},
                    (b, out, in) -> b.conv2d(out, in[0], 5, 7, in[1], null, 2, 1), t.random(0.5f, 1, 35, 5),
                    t.random(weightType, 0.5f, 6, 5, 3, 3));
            // The same geometry again, new values: cuDNN reuses its plan.
            t.check("conv2d 3/2/1 again", tolerance, null, new int[] {1, 12, 6},
                    (b, out, in) -> b.conv2d(out, in[0], 5, 7, in[1], in[2], 2, 1), t.random(0.5f, 1, 35, 5),
                    t.random(weightType, 0.5f, 6, 5, 3, 3), t.random(weightType, 0.5f, 6));
            // A 1×1 kernel: PyTorch's weight layout is already cuDNN's NHWC filter.
            t.check("conv2d 1/1/0", tolerance, null, new int[] {2, 12, 7},
                    (b, out, in) -> b.conv2d(out, in[0], 3, 4, in[1], in[2], 1, 0), t.random(0.5f, 2, 12, 5),
                    t.random(weightType, 0.5f, 7, 5, 1, 1), t.random(weightType, 0.5f, 7));
            t.check("depthwiseConv3x3Residual", tolerance, null, new int[] {2, 35, 6},
                    (b, out, in) -> b.depthwiseConv3x3Residual(out, in[0], 5, 7, in[1], in[2]),
                    t.random(1f, 2, 35, 6), t.random(weightType, 1f, 6, 1, 3, 3), t.random(weightType, 1f, 6));
            t.check("depthwiseConv3x3Residual 1 row", tolerance, null, new int[] {1, 9, 40},
                    (b, out, in) -> b.depthwiseConv3x3Residual(out, in[0], 1, 9, in[1], in[2]),
                    t.random(1f, 1, 9, 40), t.random(weightType, 1f, 40, 1, 3, 3), t.random(weightType, 1f, 40));
        }
    }

    @Test
    void layoutOps() {
        try (var t = new CudaVsReference(10)) {
            t.check("channelsLast", new int[] {2, 20, 3}, (b, out, in) -> b.channelsLast(out, in[0]),
                    t.random(1f, 2, 3, 4, 5));
            t.check("meanTokens", new int[] {2, 1, 7}, (b, out, in) -> b.meanTokens(out, in[0]),
                    t.random(1f, 2, 577, 7));
            t.check("concatTokens", new int[] {2, 8, 5}, (b, out, in) -> b.concatTokens(out, in[0], in[1]),
                    t.random(1f, 2, 3, 5), t.random(1f, 2, 5, 5));
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void embeddingWithHostOrDeviceIds(boolean hostIds) {
        try (var t = new CudaVsReference(11)) {
            Tensor table = t.random(DType.BF16, 1f, 50, 6);
            Tensor ids = Tensor.ofInts(Shape.of(2, 3), t.arena, 0, 49, 7, 7, 1, 30);
            Tensor deviceTable = t.cuda.upload(table, DType.BF16, t.arena);
            Tensor deviceIds = hostIds ? ids : t.cuda.upload(ids, DType.I32, t.arena);
            Tensor expected = Tensor.allocateHost(DType.F32, Shape.of(2, 3, 6), t.arena);
            t.reference.embedding(expected, table, ids);
            Tensor out = t.cuda.allocate(DType.F32, Shape.of(2, 3, 6), t.arena);
            t.cuda.embedding(out, deviceTable, deviceIds);
            Tensor actual = Tensor.allocateHost(DType.F32, Shape.of(2, 3, 6), t.arena);
            t.cuda.download(out, actual);
            Tolerance.KERNEL_F32.assertClose("embedding", expected, actual);
            Tensor bad = Tensor.ofInts(Shape.of(2, 3), t.arena, 0, 50, 7, 7, 1, 30);
            assertThrows(IllegalArgumentException.class, () -> t.cuda.embedding(out, deviceTable, bad));
        }
    }

    @Test
    void cacheRows() {
        try (var t = new CudaVsReference(12)) {
            Tensor cache = t.random(1f, 3, 6, 4);
            t.check("writeRows", Tolerance.KERNEL_F32, cache, new int[] {3, 6, 4},
                    (b, out, in) -> b.writeRows(out, in[0], 2), t.random(1f, 3, 3, 4));
            t.check("gatherRows", Tolerance.KERNEL_F32, t.random(1f, 3, 6, 4), new int[] {3, 6, 4},
                    (b, out, in) -> b.gatherRows(out, in[0], new int[] {2, 2, 0}, 4), cache);
        }
    }

    @ParameterizedTest
    @MethodSource("weightTypes")
    void uploadCopyAndDownloadConvert(DType dtype, Tolerance tolerance) {
        try (var t = new CudaVsReference(13)) {
            Tensor host = t.random(3f, 4, 5);
            Tensor expected = Tensor.allocateHost(dtype, host.shape(), t.arena);
            t.reference.copy(expected, host);
            Tensor device = t.cuda.upload(host, dtype, t.arena);
            Tensor roundTrip = Tensor.allocateHost(dtype, host.shape(), t.arena);
            t.cuda.download(device, roundTrip);
            // Conversions round exactly as the reference does.
            Tolerance.KERNEL_F32.assertClose("upload " + dtype, expected, roundTrip);
            Tensor copied = t.cuda.allocate(DType.F32, host.shape(), t.arena);
            t.cuda.copy(copied, device);
            Tensor back = Tensor.allocateHost(DType.F32, host.shape(), t.arena);
            t.cuda.download(copied, back);
            tolerance.assertClose("copy " + dtype + " to F32", host, back);
        }
    }

    @Test
    void misuseIsTypedError() {
        try (var t = new CudaVsReference(14)) {
            Tensor a = t.cuda.allocate(DType.F32, Shape.of(2, 3), t.arena);
            Tensor wrong = t.cuda.allocate(DType.F32, Shape.of(2, 4), t.arena);
            assertThrows(IllegalArgumentException.class, () -> t.cuda.gelu(a, wrong));
            assertThrows(IllegalArgumentException.class, () -> t.cuda.gelu(a, t.random(1f, 2, 3)));
            Tensor closed;
            try (Arena scratch = Arena.ofConfined()) {
                closed = t.cuda.allocate(DType.F32, Shape.of(2, 3), scratch);
            }
            assertThrows(IllegalStateException.class, () -> t.cuda.gelu(a, closed));
            CudaBackend other = CudaBackend.open(0);
            other.close();
            other.close();
            assertThrows(IllegalStateException.class, () -> other.gelu(a, a));
        }
    }
}
