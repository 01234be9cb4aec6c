package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.stream.Stream;
import org.florence2j.backend.LogSoftmaxTopKCases;
import org.florence2j.backend.LogSoftmaxTopKCases.Case;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CpuBackend#logSoftmaxTopK} against {@link ReferenceBackend} on {@link LogSoftmaxTopKCases} (ties, bans,
 * forcing, fewer candidates than k, k = 1 and 6 over Florence-2's 51,289 tokens), with the Vector API's kernel and
 * with the scalar one a JVM without it runs, then its value errors.
 */
class CpuLogSoftmaxTopKTest {
    static Stream<Arguments> cases() {
        return Stream.of(true, false).flatMap(vectorApi -> LogSoftmaxTopKCases.cases().stream()
                .map(c -> Arguments.of(c, vectorApi)));
    }

    @ParameterizedTest(name = "{0}, Vector API {1}")
    @MethodSource("cases")
    void matchesReference(Case c, boolean vectorApi) {
        try (var reference = new ReferenceBackend(); var cpu = new CpuBackend(1, DType.F32, vectorApi)) {
            LogSoftmaxTopKCases.assertMatches(c.name(), LogSoftmaxTopKCases.run(reference, c, true),
                    LogSoftmaxTopKCases.run(cpu, c, true));
        }
    }

    @ParameterizedTest(name = "Vector API {0}")
    @ValueSource(booleans = {true, false})
    void repeatedCallsReuseScratchAcrossShapes(boolean vectorApi) {
        // The backend keeps its ban bitmap and top-k lists between calls: a call after a larger one, and the same
        // call twice, must not see the earlier call's state.
        try (var reference = new ReferenceBackend(); var cpu = new CpuBackend(1, DType.F32, vectorApi)) {
            for (Case c : LogSoftmaxTopKCases.cases()) {
                LogSoftmaxTopKCases.assertMatches(c.name() + " again", LogSoftmaxTopKCases.run(reference, c, true),
                        LogSoftmaxTopKCases.run(cpu, c, true));
            }
        }
    }

    @Test
    void scalarKernelChoosesWhatTheVectorKernelChooses() {
        // Scores and log-probs are computed with the same F32 operations in both; only the double sum's order
        // differs, which moves the F32 log-sum by far less than an ulp.
        try (var vector = new CpuBackend(1, DType.F32, true); var scalar = new CpuBackend(1, DType.F32, false)) {
            for (Case c : LogSoftmaxTopKCases.cases()) {
                LogSoftmaxTopKCases.Result expected = LogSoftmaxTopKCases.run(vector, c, true);
                LogSoftmaxTopKCases.Result actual = LogSoftmaxTopKCases.run(scalar, c, true);
                assertArrayEquals(expected.tokens(), actual.tokens(), c.name());
                assertArrayEquals(expected.scores(), actual.scores(), c.name());
                assertArrayEquals(expected.logProbs(), actual.logProbs(), c.name());
                assertArrayEquals(expected.logSumExp(), actual.logSumExp(), c.name());
            }
        }
    }

    @Test
    void bannedIdOutsideTheVocabularyIsNamed() {
        try (var cpu = new CpuBackend(1); Arena arena = Arena.ofConfined()) {
            Tensor logits = Tensor.ofFloats(Shape.of(2, 4), arena, 1, 2, 3, 4, 4, 3, 2, 1);
            Tensor bans = Tensor.ofInts(Shape.of(2, 3), arena, 1, -1, 9, 0, 2, 4);
            var error = assertThrows(IllegalArgumentException.class, () -> cpu.logSoftmaxTopK(
                    Tensor.allocateHost(DType.F32, Shape.of(2, 2), arena),
                    Tensor.allocateHost(DType.I32, Shape.of(2, 2), arena),
                    Tensor.allocateHost(DType.F32, Shape.of(2, 2), arena),
                    Tensor.allocateHost(DType.F32, Shape.of(2), arena), logits, bans, -1, null));
            // Row 0's 9 follows its terminator and is ignored; row 1's 4 is read.
            assertEquals("logSoftmaxTopK: banned token id 4 at row 1, position 2 outside the vocabulary [0, 4)",
                    error.getMessage());
        }
    }

    @Test
    void closedLogitsAreIllegalState() {
        try (var cpu = new CpuBackend(1); Arena arena = Arena.ofConfined()) {
            Tensor logits;
            try (Arena shortLived = Arena.ofConfined()) {
                logits = Tensor.allocateHost(DType.F32, Shape.of(1, 4), shortLived);
            }
            assertThrows(IllegalStateException.class, () -> cpu.logSoftmaxTopK(
                    Tensor.allocateHost(DType.F32, Shape.of(1, 2), arena),
                    Tensor.allocateHost(DType.I32, Shape.of(1, 2), arena),
                    Tensor.allocateHost(DType.F32, Shape.of(1, 2), arena),
                    Tensor.allocateHost(DType.F32, Shape.of(1), arena), logits, null, -1, null));
        }
    }
}
