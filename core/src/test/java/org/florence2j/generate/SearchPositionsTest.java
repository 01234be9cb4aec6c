package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.florence2j.InvalidInputException;
import org.florence2j.config.EarlyStopping;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A request whose {@code max_new_tokens} passes the model's positions runs as the reference's {@code generate()}
 * runs it (a warning, then a position embedding that fails only at a step past its table): sequences that end before
 * the positions run out come back as they do from a request within them, out of search buffers sized for the
 * positions, and a search that still needs a step past them fails, naming the positions, the request and the images
 * not ended, without that step ({@link LogitsStepModel} fails the test at a step past them). Greedy and beam search
 * alike; {@code max_new_tokens} equal to the positions still ends with the forced EOS.
 */
class SearchPositionsTest {
    private static final int VOCABULARY = 4;
    private static final int EOS = 3;
    private static final int POSITIONS = 4;

    /** EOS after one token for the images marked in {@code ends}, otherwise token 1 and never EOS. */
    private static StepModel model(int beams, boolean... ends) {
        return new LogitsStepModel(VOCABULARY, POSITIONS) {
            @Override
            void logits(int[] tokens, int position, float[] logits) {
                for (int row = 0; row < tokens.length; row++) {
                    float[] rowLogits = ends[row / beams] && position >= 1 ? new float[] {0f, 1f, 0.5f, 5f}
                            : new float[] {0f, 2f, 1f, -50f};
                    System.arraycopy(rowLogits, 0, logits, row * VOCABULARY, VOCABULARY);
                }
            }
        };
    }

    private static GenerationOptions options(int beams, int maxNewTokens) {
        return new GenerationOptions(beams, maxNewTokens, 0, 0, EOS, 0, -1, EOS, 1.0, EarlyStopping.TRUE, 0);
    }

    /** A generator for up to two images, its buffers sized for the model's positions. */
    private static Generator generator(int beams) {
        return new Generator(2, beams, POSITIONS + 1, VOCABULARY);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void sequencesThatEndInTimeComeBackAsWithinThePositions(int beams) {
        GenerationResult[] within = generator(beams).generate(model(beams, true, true), 2, options(beams, POSITIONS));
        GenerationResult[] past = generator(beams).generate(model(beams, true, true), 2, options(beams, 1000));
        for (int image = 0; image < 2; image++) {
            int[] sequence = past[image].sequence();
            assertArrayEquals(within[image].sequence(), sequence, Arrays.toString(sequence));
            assertEquals(EOS, sequence[sequence.length - 1], Arrays.toString(sequence));
            assertTrue(sequence.length < POSITIONS + 1, "ended before the positions: " + Arrays.toString(sequence));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void aSearchThatNeedsAStepPastThePositionsFailsNamingTheImageNotEnded(int beams) {
        StepModel model = model(beams, true, false);
        var past = assertThrows(InvalidInputException.class,
                () -> generator(beams).generate(model, 2, options(beams, POSITIONS + 1)));
        assertEquals("generation ran out of the decoder's 4 learned positions: after 4 new tokens image 1 of 2 had"
                + " not ended, and max_new_tokens 5 allows more, but the model has no position for the next token (the"
                + " reference's position embedding fails there too); ask for at most 4 new tokens", past.getMessage());
        int[] forcedEnd = generator(beams).generate(model, 2, options(beams, POSITIONS))[1].sequence();
        assertArrayEquals(new int[] {0, 1, 1, 1, EOS}, forcedEnd, Arrays.toString(forcedEnd));
        var alone = assertThrows(InvalidInputException.class,
                () -> generator(beams).generate(model(beams, false), 1, options(beams, 2 * POSITIONS)));
        assertTrue(alone.getMessage().contains("new tokens the image had not ended"), alone.getMessage());
    }
}
