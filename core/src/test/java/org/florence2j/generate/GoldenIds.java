package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/** Generated ids against a golden sequence: exact, or exact up to a near tie (see {@link #assertGreedy}). */
public final class GoldenIds {
    private GoldenIds() {}

    /**
     * Exact ids, except that from step {@code nearTieStep} on (a step whose top-2 margin is below what the
     * computation's rounding may move, so it may pick the other token) a differing id must be among the
     * reference's top-5 at that step; after a divergence the prefixes differ, so later steps are not comparable and
     * are not compared. Step {@code s} chooses position {@code s + 1}.
     *
     * @param nearTieStep the first near-tie step, or -1 for none
     * @param top5        the reference's top-5 ids of every step, {@code [steps · 5]}
     */
    public static void assertGreedy(String id, int[] expected, int nearTieStep, int[] top5, int[] actual) {
        for (int i = 0; i < Math.min(expected.length, actual.length); i++) {
            if (expected[i] == actual[i]) {
                continue;
            }
            int step = i - 1;
            if (nearTieStep < 0 || step < nearTieStep) {
                fail(id + " greedy ids differ at position " + i + " (step " + step + ", no near tie before it):\n"
                        + "expected " + Arrays.toString(expected) + "\nactual   " + Arrays.toString(actual));
            }
            int[] candidates = Arrays.copyOfRange(top5, step * 5, step * 5 + 5);
            int token = actual[i];
            assertTrue(Arrays.stream(candidates).anyMatch(c -> c == token), id + " greedy step " + step
                    + ": id " + token + " not in the reference's top-5 " + Arrays.toString(candidates));
            return;
        }
        assertIds(id + " greedy", expected, actual);
    }

    /** Exact ids; a failure names the first differing position and its decode step (position - 1). */
    public static void assertIds(String what, int[] expected, int[] actual) {
        int position = Arrays.mismatch(expected, actual);
        if (position >= 0) {
            fail(what + " ids differ at position " + position + " (step " + (position - 1) + "):\nexpected "
                    + Arrays.toString(expected) + "\nactual   " + Arrays.toString(actual));
        }
    }
}
