package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import org.florence2j.config.EarlyStopping;
import org.junit.jupiter.api.Test;

/**
 * A beam that runs to the request's {@code max_length} without emitting EOS ends there, even when the search's
 * buffers (sized for the session's longest request) are longer: the reference's {@code BeamSearchScorer.finalize}
 * appends EOS only to hypotheses shorter than {@code max_length}.
 */
class BeamSearchLengthTest {
    private static final int VOCABULARY = 4;
    private static final int EOS = 3;

    /** Always prefers token 1, then 2, never EOS. */
    private static final StepModel NEVER_ENDS = new LogitsStepModel(VOCABULARY) {
        @Override
        void logits(int[] tokens, int position, float[] logits) {
            for (int row = 0; row < tokens.length; row++) {
                float[] rowLogits = {0f, 2f, 1f, -50f};
                System.arraycopy(rowLogits, 0, logits, row * VOCABULARY, VOCABULARY);
            }
        }
    };

    @Test
    void aHypothesisAtMaxLengthGetsNoExtraEos() {
        GenerationOptions options = new GenerationOptions(2, 4, 0, 0, EOS, 0, -1, -1, 1.0, EarlyStopping.TRUE, 0);
        BeamSearch roomy = new BeamSearch(1, 2, 3 * options.maxLength(), VOCABULARY);
        int[] sequence = roomy.run(NEVER_ENDS, 1, options)[0].sequence();
        assertArrayEquals(new int[] {0, 1, 1, 1, 1}, sequence, Arrays.toString(sequence));
        BeamSearch exact = new BeamSearch(1, 2, options.maxLength(), VOCABULARY);
        assertArrayEquals(sequence, exact.run(NEVER_ENDS, 1, options)[0].sequence(), "buffer size must not matter");
    }
}
