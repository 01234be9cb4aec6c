package org.florence2j.backend;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.EnumSet;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The shared argument checks, including the CUDA backend's placement and dtype rules, which run here without a
 * GPU: "device" tensors wrap host memory that the checks never read.
 */
class OpChecksTest {
    private static final Device CUDA = Device.cuda(0);
    private final Arena arena = Arena.ofConfined();
    private final OpChecks cpu = new OpChecks(Device.cpu(), EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64));
    private final OpChecks cuda = new OpChecks(CUDA, EnumSet.of(DType.F32, DType.F16, DType.BF16));

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void messageNamesOpAndEveryArgument() {
        var error = assertThrows(IllegalArgumentException.class, () -> cuda.conv2d(on(CUDA, DType.F32, 1, 4, 8),
                on(CUDA, DType.F32, 1, 16, 3), 4, 4, on(CUDA, DType.F32, 8, 3, 3, 3), null, 2, 0));
        assertEquals("conv2d: invalid arguments out F32[1, 4, 8] on cuda:0, x F32[1, 16, 3] on cuda:0, "
                + "weight F32[8, 3, 3, 3] on cuda:0, bias null, height 4, width 4, stride 2, padding 0",
                error.getMessage());
    }

    @Test
    void conv2dReturnsDerivedSizes() {
        OpChecks.Conv2dSize size = cpu.conv2d(on(Device.cpu(), DType.F32, 1, 4, 8),
                on(Device.cpu(), DType.F32, 1, 16, 3), 4, 4, on(Device.cpu(), DType.BF16, 8, 3, 3, 3), null, 2, 1);
        assertEquals(new OpChecks.Conv2dSize(3, 2, 2), size);
    }

    @Test
    void weightTypesAreTheBackendsOwn() {
        Tensor x = on(CUDA, DType.F32, 2, 3);
        Tensor out = on(CUDA, DType.F32, 2, 4);
        assertDoesNotThrow(() -> cuda.linear(out, x, on(CUDA, DType.F16, 4, 3), on(CUDA, DType.BF16, 4)));
        assertThrows(IllegalArgumentException.class, () -> cuda.linear(out, x, on(CUDA, DType.F64, 4, 3), null));
        Tensor hostX = on(Device.cpu(), DType.F32, 2, 3);
        assertDoesNotThrow(() -> cpu.linear(on(Device.cpu(), DType.F32, 2, 4), hostX,
                on(Device.cpu(), DType.F64, 4, 3), null));
        // Activations are F32 whatever the weights may be.
        assertThrows(IllegalArgumentException.class, () -> cpu.gelu(on(Device.cpu(), DType.F16, 2, 3), hostX));
    }

    @Test
    void linearResidualWritesAnF32ResidualStreamItDoesNotRead() {
        OpChecks bf16 = new OpChecks(Device.cpu(), EnumSet.of(DType.F32, DType.BF16),
                EnumSet.of(DType.F32, DType.BF16));
        Tensor weight = on(Device.cpu(), DType.BF16, 4, 3);
        assertDoesNotThrow(() -> bf16.linearResidual(on(Device.cpu(), DType.F32, 2, 4),
                on(Device.cpu(), DType.BF16, 2, 3), weight, null));
        var error = assertThrows(IllegalArgumentException.class, () -> bf16.linearResidual(
                on(Device.cpu(), DType.BF16, 2, 4), on(Device.cpu(), DType.F32, 2, 3), weight, null));
        assertTrue(error.getMessage().startsWith("linearResidual: invalid arguments out BF16[2, 4]"),
                error.getMessage());
        Tensor both = on(Device.cpu(), DType.F32, 2, 4);
        assertThrows(IllegalArgumentException.class,
                () -> bf16.linearResidual(both, both, on(Device.cpu(), DType.F32, 4, 4), null));
    }

    @Test
    void tensorsMustLiveOnTheBackendsDevice() {
        Tensor deviceX = on(CUDA, DType.F32, 2, 3);
        var error = assertThrows(IllegalArgumentException.class,
                () -> cuda.gelu(deviceX, on(Device.cpu(), DType.F32, 2, 3)));
        assertEquals("gelu: invalid arguments out F32[2, 3] on cuda:0, x F32[2, 3] on cpu", error.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cpu.gelu(on(Device.cpu(), DType.F32, 2, 3), deviceX));
        assertThrows(IllegalArgumentException.class, () -> cuda.upload(deviceX, DType.F16));
        assertDoesNotThrow(() -> cuda.download(deviceX, on(Device.cpu(), DType.BF16, 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> cuda.download(deviceX, on(Device.cpu(), DType.I32, 2, 3)));
    }

    @Test
    void overlapIsRejectedOnlyWithinOneDevice() {
        // out F32[1, 2, 1] and ids I32[1, 2] over the same 8 bytes.
        var bytes = arena.allocate(8);
        Tensor table = on(Device.cpu(), DType.F32, 5, 1);
        Tensor hostIds = Tensor.wrap(DType.I32, Shape.of(1, 2), Device.cpu(), bytes);
        var error = assertThrows(IllegalArgumentException.class,
                () -> cpu.embedding(Tensor.wrap(DType.F32, Shape.of(1, 2, 1), Device.cpu(), bytes), table, hostIds));
        assertEquals("embedding: output F32[1, 2, 1] on cpu overlaps input I32[1, 2] on cpu, which this op does not "
                + "allow", error.getMessage());
        // Host ids are allowed on CUDA, and a host address says nothing about device memory.
        assertDoesNotThrow(() -> cuda.embedding(Tensor.wrap(DType.F32, Shape.of(1, 2, 1), CUDA, bytes),
                on(CUDA, DType.BF16, 5, 1), hostIds));
    }

    @Test
    void crossLayoutsMustFitTheirValuesAndQueries() {
        Device host = Device.cpu();
        Tensor q = on(host, DType.F32, 3, 1, 8);
        Tensor out = on(host, DType.F32, 3, 1, 8);
        Tensor keysT = on(host, DType.F32, 1, 8, 10);
        Tensor values = on(host, DType.F32, 1, 2, 10, 4);
        assertDoesNotThrow(() -> cpu.attentionTransposedKeys(out, q, keysT, values, 10, 2));
        // Keys given token-major, more valid keys than columns, values of another capacity, values token-major,
        // values split in other heads than the attention's, heads not dividing.
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q,
                on(host, DType.F32, 1, 10, 8), values, 10, 2));
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q, keysT, values, 11, 2));
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q, keysT,
                on(host, DType.F32, 1, 2, 9, 4), 9, 2));
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q, keysT,
                on(host, DType.F32, 1, 10, 8), 10, 2));
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q, keysT,
                on(host, DType.F32, 1, 4, 10, 2), 10, 2));
        assertThrows(IllegalArgumentException.class, () -> cpu.attentionTransposedKeys(out, q, keysT, values, 10, 3));
        Tensor keys = on(host, DType.F32, 1, 10, 8);
        assertDoesNotThrow(() -> cpu.transposeKeys(keysT, keys));
        var error = assertThrows(IllegalArgumentException.class,
                () -> cpu.transposeKeys(on(host, DType.F32, 1, 8, 9), keys));
        assertEquals("transposeKeys: invalid arguments keysT F32[1, 8, 9] on cpu, keys F32[1, 10, 8] on cpu",
                error.getMessage());
        assertDoesNotThrow(() -> cpu.headMajorValues(values, keys));
        // Fewer rows than tokens, heads × headDim not the channels.
        assertThrows(IllegalArgumentException.class, () -> cpu.headMajorValues(on(host, DType.F32, 1, 2, 9, 4), keys));
        error = assertThrows(IllegalArgumentException.class,
                () -> cpu.headMajorValues(on(host, DType.F32, 1, 2, 10, 3), keys));
        assertEquals("headMajorValues: invalid arguments valuesHM F32[1, 2, 10, 3] on cpu, values F32[1, 10, 8] on cpu",
                error.getMessage());
    }

    @Test
    void embeddingIdsMustBeInTheVocabulary() {
        Tensor table = on(Device.cpu(), DType.F32, 5, 2);
        assertDoesNotThrow(() -> OpChecks.embeddingIds(new long[] {0, 4}, table));
        var error = assertThrows(IllegalArgumentException.class,
                () -> OpChecks.embeddingIds(new long[] {0, 5}, table));
        assertEquals("embedding: id 5 at position 1 outside the vocabulary [0, 5) of table F32[5, 2] on cpu",
                error.getMessage());
    }

    @Test
    void closedArenaIsIllegalStateEvenWhenShapesAreWrong() {
        Tensor dead;
        try (Arena shortLived = Arena.ofConfined()) {
            dead = Tensor.wrap(DType.F32, Shape.of(2, 3), CUDA, shortLived.allocate(24));
        }
        Tensor wrongShape = on(CUDA, DType.F32, 3, 3);
        assertThrows(IllegalStateException.class, () -> cuda.gelu(wrongShape, dead));
    }

    @Test
    void logSoftmaxTopKShapesAndPlacement() {
        Tensor scores = on(CUDA, DType.F32, 3, 6);
        Tensor tokens = on(CUDA, DType.I32, 3, 6);
        Tensor logProbs = on(CUDA, DType.F32, 3, 6);
        Tensor logSumExp = on(CUDA, DType.F32, 3);
        Tensor logits = on(CUDA, DType.F32, 3, 10);
        Tensor hostBans = on(Device.cpu(), DType.I32, 3, 4);
        Tensor hostOffsets = on(Device.cpu(), DType.F32, 3);
        // Ban lists and offsets may stay on the host, or live on the device; either may be absent.
        assertDoesNotThrow(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, hostBans, -1,
                hostOffsets));
        assertDoesNotThrow(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits,
                on(CUDA, DType.I32, 3, 1), 9, on(CUDA, DType.F32, 3)));
        assertDoesNotThrow(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, null, -1, null));
        var error = assertThrows(IllegalArgumentException.class, () -> cuda.logSoftmaxTopK(scores, tokens,
                logProbs, logSumExp, on(Device.cpu(), DType.F32, 3, 10), null, -1, null));
        assertEquals("logSoftmaxTopK: invalid arguments scores F32[3, 6] on cuda:0, tokens I32[3, 6] on cuda:0, "
                + "logProbs F32[3, 6] on cuda:0, logSumExp F32[3] on cuda:0, logits F32[3, 10] on cpu, "
                + "bannedTokens null, scoreOffsets null, forcedToken -1", error.getMessage());
        // k above the vocabulary, tokens not I32, a wrong row count, rank-3 logits, a forced token outside.
        assertInvalid(() -> cuda.logSoftmaxTopK(on(CUDA, DType.F32, 3, 11), on(CUDA, DType.I32, 3, 11),
                on(CUDA, DType.F32, 3, 11), logSumExp, logits, null, -1, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, on(CUDA, DType.F32, 3, 6), logProbs, logSumExp, logits,
                null, -1, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, on(CUDA, DType.F32, 2), logits, null, -1,
                null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, on(CUDA, DType.F32, 3, 1, 10),
                null, -1, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, null, 10, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, null, -2, null));
        // Ban lists are I32 [rows, width]; offsets F32 [rows].
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits,
                on(Device.cpu(), DType.I64, 3, 4), -1, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits,
                on(Device.cpu(), DType.I32, 2, 4), -1, null));
        assertInvalid(() -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, null, -1,
                on(Device.cpu(), DType.F32, 3, 1)));
    }

    @Test
    void logSoftmaxTopKOutputsMustNotOverlap() {
        var bytes = arena.allocate(3 * 6 * 4);
        Tensor scores = Tensor.wrap(DType.F32, Shape.of(3, 6), Device.cpu(), bytes);
        Tensor logProbs = Tensor.wrap(DType.F32, Shape.of(3, 6), Device.cpu(), bytes);
        var error = assertThrows(IllegalArgumentException.class, () -> cpu.logSoftmaxTopK(scores,
                on(Device.cpu(), DType.I32, 3, 6), logProbs, on(Device.cpu(), DType.F32, 3),
                on(Device.cpu(), DType.F32, 3, 10), null, -1, null));
        assertEquals("logSoftmaxTopK: output F32[3, 6] on cpu overlaps input F32[3, 6] on cpu, which this op does "
                + "not allow", error.getMessage());
    }

    @Test
    void bannedTokensMustBeInTheVocabularyUpToEachRowsEnd() {
        Tensor bans = Tensor.ofInts(Shape.of(2, 3), arena, 4, -1, 7, 0, 1, 2);
        assertDoesNotThrow(() -> OpChecks.bannedTokens(bans, 5));
        var error = assertThrows(IllegalArgumentException.class, () -> OpChecks.bannedTokens(bans, 4));
        assertEquals("logSoftmaxTopK: banned token id 4 at row 0, position 0 outside the vocabulary [0, 4)",
                error.getMessage());
    }

    private static void assertInvalid(Executable call) {
        var error = assertThrows(IllegalArgumentException.class, call);
        assertTrue(error.getMessage().startsWith("logSoftmaxTopK: invalid arguments "), error.getMessage());
    }

    /** A tensor of zeros said to live on {@code device}; the checks only look at its metadata and address. */
    @Test
    void writeTakesAHostTensorOfTheSameShapeAndDtype() {
        Tensor out = on(CUDA, DType.I32, 7);
        assertDoesNotThrow(() -> cuda.write(out, on(Device.cpu(), DType.I32, 7)));
        var error = assertThrows(IllegalArgumentException.class, () -> cuda.write(out, on(CUDA, DType.I32, 7)));
        assertEquals("write: invalid arguments out I32[7] on cuda:0, host I32[7] on cuda:0", error.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cuda.write(out, on(Device.cpu(), DType.F32, 7)));
        assertThrows(IllegalArgumentException.class, () -> cuda.write(out, on(Device.cpu(), DType.I32, 8)));
        assertThrows(IllegalArgumentException.class, () -> cuda.write(on(Device.cpu(), DType.I32, 7),
                on(Device.cpu(), DType.I32, 7)));
    }

    private Tensor on(Device device, DType dtype, int... dims) {
        Shape shape = Shape.of(dims);
        return Tensor.wrap(dtype, shape, device, arena.allocate(shape.elementCount() * dtype.byteSize()));
    }
}
