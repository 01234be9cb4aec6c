package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import org.florence2j.config.EarlyStopping;
import org.junit.jupiter.api.Test;

/**
 * How the searches use the step's per-row candidates: beam search merges the rows' best into the image's best with
 * ties to the lower {@code beam · vocabulary + token}, and greedy search's transition score is the log-softmax of
 * the processed logits (bans and forced tokens applied), as HuggingFace's {@code compute_transition_scores} with
 * {@code normalize_logits=True} gives it. Every row sees the logits {@code (0, 2, 1, -50)}.
 */
class SearchSelectionTest {
    private static final int VOCABULARY = 4;
    private static final int EOS = 3;
    private static final float[] ROW = {0f, 2f, 1f, -50f};

    private static final StepModel SAME_LOGITS = new LogitsStepModel(VOCABULARY) {
        @Override
        void logits(int[] tokens, int position, float[] logits) {
            for (int row = 0; row < tokens.length; row++) {
                System.arraycopy(ROW, 0, logits, row * VOCABULARY, VOCABULARY);
            }
        }
    };

    /** Tokens 1 and 2 tie: (0, 1, 1, -50). */
    private static final StepModel TIED = new LogitsStepModel(VOCABULARY) {
        @Override
        void logits(int[] tokens, int position, float[] logits) {
            for (int row = 0; row < tokens.length; row++) {
                System.arraycopy(new float[] {0f, 1f, 1f, -50f}, 0, logits, row * VOCABULARY, VOCABULARY);
            }
        }
    };

    @Test
    void beamTiesGoToTheLowerBeamThenTheLowerToken() {
        // Step 1 expands beam 0 only: its tied tokens 1 and 2 become beams [0, 1] and [0, 2] with equal scores.
        // Step 2: both beams score every token alike, so the merge must keep beam 0's tokens 1 and 2 ahead of beam
        // 1's: [0, 1, 1] and [0, 1, 2]. Step 3 extends [0, 1, 1] twice; the equal finished hypotheses resolve to the
        // last added. Taking beam 1 first would give [0, 2, 1, 2]; token 2 before 1, [0, 2, 2, 1].
        GenerationOptions options = new GenerationOptions(2, 3, 0, 0, EOS, 0, -1, -1, 1.0, EarlyStopping.TRUE, 0);
        int[] sequence = new BeamSearch(1, 2, options.maxLength(), VOCABULARY).run(TIED, 1, options)[0].sequence();
        assertArrayEquals(new int[] {0, 1, 1, 2}, sequence, Arrays.toString(sequence));
    }

    @Test
    void greedyTransitionScoresNormaliseOverTheTokensNotBanned() {
        // Bigram bans: after [0, 1, 1] the bigram (1, 1) is taken, so token 1 is banned and 2 is chosen.
        GenerationOptions options = new GenerationOptions(1, 3, 2, 0, EOS, 0, -1, -1, 1.0, EarlyStopping.TRUE, 0);
        GenerationResult result = new GreedySearch(1, options.maxLength()).run(SAME_LOGITS, 1, options)[0];
        assertArrayEquals(new int[] {0, 1, 1, 2}, result.sequence(), Arrays.toString(result.sequence()));
        double all = Math.log(1 + Math.exp(2) + Math.exp(1) + Math.exp(-50));
        double withoutToken1 = Math.log(1 + Math.exp(1) + Math.exp(-50));
        assertArrayEquals(new float[] {(float) (2 - all), (float) (2 - all), (float) (1 - withoutToken1)},
                result.transitionScores(), 1e-6f);
    }

    @Test
    void greedyForcedTokensScoreZero() {
        GenerationOptions options = new GenerationOptions(1, 3, 0, 0, EOS, 0, 2, EOS, 1.0, EarlyStopping.TRUE, 0);
        GenerationResult result = new GreedySearch(1, options.maxLength()).run(SAME_LOGITS, 1, options)[0];
        assertArrayEquals(new int[] {0, 2, 1, EOS}, result.sequence(), Arrays.toString(result.sequence()));
        double all = Math.log(1 + Math.exp(2) + Math.exp(1) + Math.exp(-50));
        assertArrayEquals(new float[] {0f, (float) (2 - all), 0f}, result.transitionScores(), 1e-6f);
    }

    @Test
    void greedyBansEosUntilTheMinimumOfNewTokens() {
        StepModel eosFirst = new LogitsStepModel(VOCABULARY) {
            @Override
            void logits(int[] tokens, int position, float[] logits) {
                for (int row = 0; row < tokens.length; row++) {
                    System.arraycopy(new float[] {0f, 1f, 0.5f, 3f}, 0, logits, row * VOCABULARY, VOCABULARY);
                }
            }
        };
        GenerationOptions options = new GenerationOptions(1, 6, 0, 0, EOS, 0, -1, -1, 1.0, EarlyStopping.TRUE, 0);
        int[] unconstrained = new GreedySearch(1, options.maxLength()).run(eosFirst, 1, options)[0].sequence();
        assertArrayEquals(new int[] {0, EOS}, unconstrained, Arrays.toString(unconstrained));
        GenerationOptions atLeastThree = new GenerationOptions(1, 6, 0, 0, EOS, 0, -1, -1, 1.0, EarlyStopping.TRUE,
                3);
        int[] sequence = new GreedySearch(1, options.maxLength()).run(eosFirst, 1, atLeastThree)[0].sequence();
        assertArrayEquals(new int[] {0, 1, 1, 1, EOS}, sequence, Arrays.toString(sequence));
    }
}
