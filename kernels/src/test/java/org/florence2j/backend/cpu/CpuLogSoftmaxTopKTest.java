package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
 * {@link CpuBackend#logSoftmaxTopK} against {@link ReferenceBackend} on {@link LogSoftmaxTopKCases} (ties, bans,
 * forcing, fewer candidates than k, k = 1 and 6 over Florence-2's 51,289 tokens), then its value errors.
 */
class CpuLogSoftmaxTopKTest {
    static Iterable<Case> cases() {
        return LogSoftmaxTopKCases.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesReference(Case c) {
        try (var reference = new ReferenceBackend(); var cpu = new CpuBackend(1)) {
            LogSoftmaxTopKCases.assertMatches(c.name(), LogSoftmaxTopKCases.run(reference, c, true),
                    LogSoftmaxTopKCases.run(cpu, c, true));
        }
    }

    @Test
    void repeatedCallsReuseScratchAcrossShapes() {
        // The backend keeps its ban bitmap and top-k lists between calls: a call after a larger one, and the same
        // call twice, must not see the earlier call's state.
        try (var reference = new ReferenceBackend(); var cpu = new CpuBackend(1)) {
            for (Case c : LogSoftmaxTopKCases.cases()) {
                LogSoftmaxTopKCases.assertMatches(c.name() + " again", LogSoftmaxTopKCases.run(reference, c, true),
                        LogSoftmaxTopKCases.run(cpu, c, true));
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
