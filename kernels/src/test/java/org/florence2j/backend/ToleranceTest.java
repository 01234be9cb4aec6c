package org.florence2j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ToleranceTest {
    @Test
    void acceptsWithinAtolPlusRtolTimesExpected() {
        Tolerance tolerance = new Tolerance(1e-3, 1e-2);
        assertTrue(tolerance.accepts(100, 101.0009));
        assertFalse(tolerance.accepts(100, 101.0011));
        assertFalse(tolerance.accepts(0, Double.NaN));
        assertTrue(tolerance.accepts(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> new Tolerance(-1, 0));
    }

    @Test
    void reportNamesTapShapeWorstElementAndFirstViolations() {
        float[] expected = {1, 2, 3, 4, 5, 6};
        float[] actual = {1, 2.5f, 3, 4, 5.1f, 6.01f};
        try (Arena arena = Arena.ofConfined()) {
            AssertionError error = assertThrows(AssertionError.class, () -> new Tolerance(0.05, 0).assertClose(
                    "vision.stage0.out", Tensor.ofFloats(Shape.of(1, 2, 3), arena, expected),
                    Tensor.ofFloats(Shape.of(1, 2, 3), arena, actual)));
            String report = error.getMessage();
            assertTrue(report.startsWith("vision.stage0.out [1, 2, 3]: 2 of 6 elements outside"), report);
            assertTrue(report.contains("worst at [0, 0, 1]: expected 2.00000000, actual 2.50000000"), report);
            assertTrue(report.contains("max abs err 5.000e-01, max rel err 2.500e-01"), report);
            assertTrue(report.contains("[0, 0, 1] expected 2.00000000 actual 2.50000000"), report);
            assertTrue(report.contains("[0, 1, 1] expected 5.00000000 actual 5.09999990"), report);
            assertFalse(report.contains("[0, 1, 2] expected"), report);
            assertTrue(report.contains("NMSE 2.8"), report);
        }
    }

    @Test
    void comparisonComputesNmseAndCountsNaNAsWorst() {
        Tolerance.Comparison comparison = Tolerance.KERNEL_F32.compare("nan", Shape.of(3), new float[] {3, 4, 0},
                new float[] {3, Float.NaN, 0});
        assertEquals(1, comparison.violations());
        assertEquals(1, comparison.worstIndex());

        Tolerance.Comparison close = Tolerance.KERNEL_F32.compare("nmse", Shape.of(2), new float[] {3, 4},
                new float[] {3, 4.5f});
        assertEquals(0.25 / 25, close.nmse(), 1e-12);
        assertFalse(close.passed());
    }

    @Test
    void maxAbsVariantScalesAtolWithTheExpectedTensor() {
        float[] expected = {1000, 1};
        float[] actual = {1000.09f, 1.09f};
        // 1e-4 of max-abs 1000 is 0.1, above the stage atol 2e-4.
        Tolerance.STAGE_F32.atLeastOfMaxAbs(Tolerance.STAGE_F32_OF_MAX_ABS, expected).assertClose("big", expected,
                actual);
        assertThrows(AssertionError.class, () -> Tolerance.STAGE_F32.assertClose("big", expected, actual));
        try (Arena arena = Arena.ofConfined()) {
            Tolerance.assertStageClose("stage", Tensor.ofFloats(Shape.of(2), arena, expected),
                    Tensor.ofFloats(Shape.of(2), arena, actual));
            assertThrows(AssertionError.class, () -> Tolerance.assertStageClose("stage",
                    Tensor.ofFloats(Shape.of(2), arena, expected), Tensor.ofFloats(Shape.of(1, 2), arena, actual)));
        }
    }
}
