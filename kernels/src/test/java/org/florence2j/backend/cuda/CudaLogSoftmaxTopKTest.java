package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.florence2j.backend.LogSoftmaxTopKCases;
import org.florence2j.backend.LogSoftmaxTopKCases.Case;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CudaBackend#logSoftmaxTopK} (the {@code log_softmax_top_k} kernel) against {@link ReferenceBackend} on
 * {@link LogSoftmaxTopKCases}, with the ban lists and offsets on the host and on the device, and its device-only
 * errors. Without a GPU or the CUDA libraries every case aborts with the reason.
 */
class CudaLogSoftmaxTopKTest {
    static Iterable<Case> cases() {
        return LogSoftmaxTopKCases.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesReference(Case c) {
        try (var cuda = CudaVsReference.openOrAbort(); var reference = new ReferenceBackend()) {
            LogSoftmaxTopKCases.Result expected = LogSoftmaxTopKCases.run(reference, c, true);
            LogSoftmaxTopKCases.assertMatches(c.name() + ", host lists", expected,
                    LogSoftmaxTopKCases.run(cuda, c, true));
            LogSoftmaxTopKCases.assertMatches(c.name() + ", device lists", expected,
                    LogSoftmaxTopKCases.run(cuda, c, false));
        }
    }

    @Test
    void deviceBanListIsCheckedAndVocabularyIsBounded() {
        try (var cuda = CudaVsReference.openOrAbort(); Arena arena = Arena.ofConfined()) {
            Tensor logits = cuda.allocate(DType.F32, Shape.of(1, 4), arena);
            Tensor scores = cuda.allocate(DType.F32, Shape.of(1, 2), arena);
            Tensor tokens = cuda.allocate(DType.I32, Shape.of(1, 2), arena);
            Tensor logProbs = cuda.allocate(DType.F32, Shape.of(1, 2), arena);
            Tensor logSumExp = cuda.allocate(DType.F32, Shape.of(1), arena);
            Tensor bans = cuda.upload(Tensor.ofInts(Shape.of(1, 2), arena, 1, 4), DType.I32, arena);
            var error = assertThrows(IllegalArgumentException.class,
                    () -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bans, -1, null));
            assertTrue(error.getMessage().contains("banned token id 4 at row 0, position 1"), error.getMessage());
            int tooLarge = CudaLogits.MAX_VOCABULARY + 1;
            Tensor wide = cuda.allocate(DType.F32, Shape.of(1, tooLarge), arena);
            error = assertThrows(IllegalArgumentException.class,
                    () -> cuda.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, wide, null, -1, null));
            assertTrue(error.getMessage().contains("at most " + CudaLogits.MAX_VOCABULARY), error.getMessage());
        }
    }
}
