package org.florence2j.backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * How close a computed tensor must be to its expected value: element {@code i} passes when
 * {@code |actual - expected| <= atol + rtol·|expected|} (llm.c's {@code validate_result}). A NaN or infinity that
 * the expected value does not also hold always fails.
 *
 * <p>It lives in {@code main}, not in a test source set, so that tests of every module share one definition and
 * one failure report: the tap name, shape, worst element, max abs and rel error, the number of violations, the
 * first five violating pairs, and the whole-tensor normalised mean squared error {@code Σ(a-e)² / Σe²} (ggml's
 * {@code test-backend-ops} measure).
 *
 * @param atol absolute tolerance, {@code >= 0}
 * @param rtol tolerance relative to each expected element's magnitude, {@code >= 0}
 */
public record Tolerance(double atol, double rtol) {
    /**
     * Pixel values against the golden {@code pixel_values}: abs 1e-6, given the same uint8 resize (golden
     * README, "Tolerances").
     */
    public static final Tolerance PIXEL = new Tolerance(1e-6, 0);

    /**
     * DaViT stage outputs, image features and encoder states against the goldens: abs 2e-4 (golden README). The
     * README also accepts an error of 1e-4 of the tensor's max-abs, which {@link #assertStageClose} adds.
     */
    public static final Tolerance STAGE_F32 = new Tolerance(2e-4, 0);

    /** The golden README's alternative stage bound: 1e-4 relative to the expected tensor's max-abs. */
    public static final double STAGE_F32_OF_MAX_ABS = 1e-4;

    /**
     * Decoder logits against the goldens: abs 5e-4 (golden README; the float64 twin measured ~1e-5 on logits up
     * to ~9 in magnitude).
     */
    public static final Tolerance LOGITS_F32 = new Tolerance(5e-4, 0);

    /** Beam-search transition scores against the goldens: abs 1e-3 (golden README). */
    public static final Tolerance TRANSITION_SCORES = new Tolerance(1e-3, 0);

    /**
     * One F32 kernel against {@code ReferenceBackend}, on inputs of magnitude ~1: the reference accumulates in
     * double, a kernel in float, and a float sum of k terms drifts by ~k·2^-24 ≈ 6e-8·k relative, about 1e-5 for
     * the longest reductions we have (k ≈ 100–200 channels at unit scale, with cancellation). Atol covers results
     * near zero, where a relative bound alone would demand exactness.
     */
    public static final Tolerance KERNEL_F32 = new Tolerance(1e-5, 1e-5);

    /**
     * One kernel with F16 weights or storage against the F32 reference: F16 has an 11-bit significand (unit
     * roundoff 4.9e-4), and a few roundings per result give ~1e-3; we allow 1e-2 relative plus 1e-3 absolute.
     */
    public static final Tolerance KERNEL_F16 = new Tolerance(1e-3, 1e-2);

    /**
     * One kernel with BF16 weights or storage against the F32 reference: BF16 has an 8-bit significand (unit
     * roundoff 3.9e-3), so a single rounding is already ~4e-3 relative; we allow 2e-2 relative plus 1e-2
     * absolute.
     */
    public static final Tolerance KERNEL_BF16 = new Tolerance(1e-2, 2e-2);

    private static final int REPORTED_VIOLATIONS = 5;

    public Tolerance {
        if (!(atol >= 0) || !(rtol >= 0)) {
            throw new IllegalArgumentException("tolerances must be >= 0: atol " + atol + ", rtol " + rtol);
        }
    }

    /** Whether one element passes. */
    public boolean accepts(double expected, double actual) {
        if (Double.isNaN(expected) || Double.isInfinite(expected)) {
            return Double.compare(expected, actual) == 0;
        }
        return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
    }

    /**
     * This tolerance with its atol raised to {@code fraction} of the largest magnitude in {@code expected}, for
     * bounds stated relative to a tensor's scale (the golden README's "1e-4 relative to the tensor's max-abs").
     */
    public Tolerance atLeastOfMaxAbs(double fraction, float[] expected) {
        return new Tolerance(Math.max(atol, fraction * maxAbs(expected)), rtol);
    }

    /**
     * Asserts that every element of {@code actual} is close to {@code expected}.
     *
     * @param tapName what is compared, e.g. {@code "vision.stage2.block1.channel"} or {@code "gelu"}
     * @throws AssertionError with the full report on any violation or a shape mismatch
     */
    public void assertClose(String tapName, Tensor expected, Tensor actual) {
        if (!expected.shape().equals(actual.shape())) {
            throw new AssertionError(tapName + ": shape " + actual.shape() + " differs from expected "
                    + expected.shape());
        }
        compare(tapName, expected.shape(), expected.toFloatArray(), actual.toFloatArray()).assertPassed();
    }

    /** {@link #assertClose(String, Tensor, Tensor)} for plain arrays, reported as shape {@code [length]}. */
    public void assertClose(String tapName, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError(tapName + ": " + actual.length + " elements, expected " + expected.length);
        }
        if (expected.length == 0) {
            return;
        }
        compare(tapName, Shape.of(Math.max(1, expected.length)), expected, actual).assertPassed();
    }

    /**
     * Asserts closeness with atol raised to {@code fraction} of the expected tensor's max-abs (see
     * {@link #atLeastOfMaxAbs}).
     */
    public void assertCloseOfMaxAbs(String tapName, Tensor expected, Tensor actual, double fraction) {
        atLeastOfMaxAbs(fraction, expected.toFloatArray()).assertClose(tapName, expected, actual);
    }

    /**
     * The golden README's rule for F32 stage outputs, image features and encoder states: each element within
     * abs 2e-4, or within 1e-4 of the expected tensor's max-abs, whichever is larger.
     */
    public static void assertStageClose(String tapName, Tensor expected, Tensor actual) {
        STAGE_F32.assertCloseOfMaxAbs(tapName, expected, actual, STAGE_F32_OF_MAX_ABS);
    }

    /** Compares without throwing; see {@link Comparison#report()}. */
    public Comparison compare(String tapName, Shape shape, float[] expected, float[] actual) {
        if (expected.length != actual.length || expected.length != shape.elementCount()) {
            throw new IllegalArgumentException(tapName + ": shape " + shape + " with " + expected.length
                    + " expected and " + actual.length + " actual elements");
        }
        int worstIndex = -1;
        double maxAbsError = 0;
        double maxRelError = 0;
        double squaredError = 0;
        double squaredExpected = 0;
        int violations = 0;
        List<Integer> firstViolations = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            double absError = Math.abs(a - e);
            if (Double.isNaN(absError)) {
                // NaN sorts above every number, so it becomes the worst element.
                absError = Double.POSITIVE_INFINITY;
            }
            squaredError += absError * absError;
            squaredExpected += e * e;
            if (worstIndex < 0 || absError > maxAbsError) {
                worstIndex = i;
                maxAbsError = absError;
            }
            if (e != 0) {
                maxRelError = Math.max(maxRelError, absError / Math.abs(e));
            }
            if (!accepts(e, a)) {
                violations++;
                if (firstViolations.size() < REPORTED_VIOLATIONS) {
                    firstViolations.add(i);
                }
            }
        }
        double nmse = squaredExpected == 0 ? squaredError : squaredError / squaredExpected;
        return new Comparison(tapName, shape, this, expected, actual, worstIndex, maxAbsError, maxRelError,
                violations, firstViolations, nmse);
    }

    /** The largest magnitude in {@code values}; 0 for an empty array. */
    public static double maxAbs(float[] values) {
        double max = 0;
        for (float value : values) {
            max = Math.max(max, Math.abs(value));
        }
        return max;
    }

    /**
     * The outcome of {@link #compare}.
     *
     * @param worstIndex      flat index of the largest absolute error (NaN counts as infinite)
     * @param violations      number of elements outside the tolerance
     * @param firstViolations flat indices of the first few violating elements
     * @param nmse            {@code Σ(a-e)² / Σe²} (or {@code Σ(a-e)²} when expected is all zero)
     */
    public record Comparison(String tapName, Shape shape, Tolerance tolerance, float[] expected, float[] actual,
            int worstIndex, double maxAbsError, double maxRelError, int violations, List<Integer> firstViolations,
            double nmse) {
        /** Whether every element is within tolerance. */
        public boolean passed() {
            return violations == 0;
        }

        /** Throws an {@link AssertionError} carrying {@link #report()} unless every element passed. */
        public void assertPassed() {
            if (!passed()) {
                throw new AssertionError(report());
            }
        }

        /** A multi-line, llm.c-style description of the comparison. */
        public String report() {
            StringBuilder text = new StringBuilder();
            text.append(String.format(Locale.ROOT, "%s %s: %d of %d elements outside |a-e| <= %.3g + %.3g*|e|%n",
                    tapName, shape, violations, expected.length, tolerance.atol(), tolerance.rtol()));
            if (worstIndex >= 0) {
                text.append(String.format(Locale.ROOT, "  worst at %s: expected %.9g, actual %.9g%n",
                        position(worstIndex), expected[worstIndex], actual[worstIndex]));
            }
            text.append(String.format(Locale.ROOT, "  max abs err %.3e, max rel err %.3e, NMSE %.3e%n",
                    maxAbsError, maxRelError, nmse));
            if (!firstViolations.isEmpty()) {
                text.append("  first violations:");
                for (int index : firstViolations) {
                    text.append(String.format(Locale.ROOT, "%n    %s expected %.9g actual %.9g", position(index),
                            expected[index], actual[index]));
                }
                text.append(System.lineSeparator());
            }
            return text.toString();
        }

        /** The multi-index of a flat index, e.g. {@code [0, 12, 3]}. */
        private String position(int flatIndex) {
            int[] dims = shape.dims();
            int[] index = new int[dims.length];
            long rest = flatIndex;
            for (int axis = dims.length - 1; axis >= 0; axis--) {
                index[axis] = (int) (rest % dims[axis]);
                rest /= dims[axis];
            }
            return Arrays.toString(index);
        }
    }
}
