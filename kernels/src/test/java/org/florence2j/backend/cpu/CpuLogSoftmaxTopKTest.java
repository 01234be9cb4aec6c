package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
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
        // Scores and log-probs take the same F32 operations in both; only the double sum's order (and, compiled, the
        // vector exponential's last bits) differs, by ~1e-12 over 51,289 terms.
        try (var vector = new CpuBackend(1, DType.F32, true); var scalar = new CpuBackend(1, DType.F32, false)) {
            for (Case c : LogSoftmaxTopKCases.cases()) {
                LogSoftmaxTopKCases.Result expected = LogSoftmaxTopKCases.run(vector, c, true);
                LogSoftmaxTopKCases.Result actual = LogSoftmaxTopKCases.run(scalar, c, true);
                assertArrayEquals(expected.tokens(), actual.tokens(), c.name());
                assertWithinSumRounding(c.name() + " scores", expected.scores(), actual.scores());
                assertWithinSumRounding(c.name() + " logProbs", expected.logProbs(), actual.logProbs());
                assertWithinSumRounding(c.name() + " logSumExp", expected.logSumExp(), actual.logSumExp());
            }
        }
    }

    @Test
    void aConfidentRowsScoresDifferOnlyByTheSumsRounding() {
        // One token takes nearly all the probability: its score, ~-4.8e-9, is where the sums' orders show.
        float[] logits = new float[LogSoftmaxTopKCases.FLORENCE2_VOCABULARY];
        Arrays.fill(logits, -30f);
        logits[0] = 0f;
        Case confident = new Case("confident row", 1, logits.length, 2, logits, null, 0, -1, null);
        try (var vector = new CpuBackend(1, DType.F32, true); var scalar = new CpuBackend(1, DType.F32, false)) {
            LogSoftmaxTopKCases.Result expected = LogSoftmaxTopKCases.run(vector, confident, true);
            LogSoftmaxTopKCases.Result actual = LogSoftmaxTopKCases.run(scalar, confident, true);
            assertArrayEquals(expected.tokens(), actual.tokens());
            assertWithinSumRounding("confident scores", expected.scores(), actual.scores());
            assertEquals(-4.7994e-9, actual.scores()[0], 1e-11, "the best token's log-probability");
        }
    }

    /** Equal infinities, or values within 1e-10 or an F32 ulp of each other: what the sums' rounding can move. */
    private static void assertWithinSumRounding(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            boolean close = e == a || Math.abs(e - a) <= Math.max(1e-10f, Math.ulp(Math.abs(e)));
            int index = i;
            assertTrue(close, () -> what + "[" + index + "]: " + e + " against " + a);
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
