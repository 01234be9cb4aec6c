package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.florence2j.Task;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The score path's offsets are Python string lengths: token 45868 decodes to {@code " 🙂"}, two code points but
 * three UTF-16 units, and the reference's {@code cur_span} (which skips the text between phrases) then picks the
 * tokens a box's score averages over by those lengths. Expected scores from the reference's
 * {@code Florence2PostProcesser} on these sequences ({@code <OD>}, 640×480, transition scores
 * {@code -0.125·(k + 1)}).
 */
class ScorePathTest {
    private static final int LOC = 50269; // <loc_0>

    static List<Arguments> cases() {
        return List.of(
                Arguments.of(new int[] {2, 0, 45868, LOC + 1, LOC + 2, LOC + 3, 5901, LOC + 10, LOC + 20, LOC + 30,
                    LOC + 40, 2}, List.of(0.4723665527410147)),
                Arguments.of(new int[] {2, 0, 5901, LOC + 10, LOC + 20, LOC + 30, LOC + 40, 45868, LOC + 1, 5901,
                    LOC + 11, LOC + 21, LOC + 31, LOC + 41, 2}, List.of(0.569782824730923, 0.25283959580474646)));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void boxScoresAverageTheTokensThePythonOffsetsPick(int[] sequence, List<Double> expected) {
        float[] scores = new float[sequence.length - 1];
        for (int k = 0; k < scores.length; k++) {
            scores[k] = -0.125f * (k + 1);
        }
        ScoredTokens tokens = ScoredTokens.of(sequence, scores, TokenPieces::pieceOf);
        BoxesResult result = (BoxesResult) PostProcessor.process(Task.OD, tokens, 640, 480);
        assertEquals(expected, result.scores(), tokens.text());
    }
}
