package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.model.Session;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Greedy and beam-3 generation against every golden case, from the reference's {@code encoder_inputs_embeds},
 * with each case's recorded {@code kwargs}: ids exact (greedy: up to the recorded near-tie step, then the
 * reference's per-step top-5), beam transition scores within 1e-3 and the sequence score within 1e-3.
 */
class GenerationGoldenTest {
    private static GoldenText golden;
    private static Session session;

    @BeforeAll
    static void load() {
        golden = new GoldenText(new ReferenceBackend());
        session = new Session(golden.backend(), golden.model(), new Session.Limits(4, 64, 32, 3));
    }

    @AfterAll
    static void close() {
        session.close();
        golden.close();
    }

    @Test
    void greedyAndBeamMatchEveryGoldenCase() {
        int checked = 0;
        for (JsonNode goldenCase : golden.cases()) {
            String id = goldenCase.get("id").asText();
            try (SafetensorsFile arrays = golden.arrays(goldenCase)) {
                Tensor embeds = arrays.tensor("encoder_inputs_embeds");
                JsonNode greedy = goldenCase.get("generate").get("greedy");
                GenerationResult greedyResult = session.generateFromEmbeds(List.of(embeds),
                        options(greedy.get("kwargs")))[0];
                assertGreedy(id, greedy, arrays, greedyResult.sequence());

                JsonNode beam = goldenCase.get("generate").get("beam3");
                GenerationResult beamResult = session.generateFromEmbeds(List.of(embeds),
                        options(beam.get("kwargs")))[0];
                int[] expected = GoldenText.ints(beam.get("sequence"));
                assertEquals(Arrays.toString(expected), Arrays.toString(beamResult.sequence()), id + " beam3 ids");
                Tolerance.TRANSITION_SCORES.assertClose(id + " beam3_transition_scores",
                        arrays.tensor("beam3_transition_scores").toFloatArray(), beamResult.transitionScores());
                Tolerance.TRANSITION_SCORES.assertClose(id + " sequences_scores",
                        new float[] {(float) beam.get("sequences_scores").asDouble()},
                        new float[] {beamResult.sequenceScore()});
                checked++;
            }
        }
        assertEquals(60, checked);
    }

    /** The options the reference ran with: the config's, overridden by the case's {@code kwargs}. */
    static GenerationOptions options(JsonNode kwargs) {
        return GenerationOptions.fromConfig(golden.config().text(), kwargs.get("max_new_tokens").asInt())
                .withNumBeams(kwargs.get("num_beams").asInt());
    }

    /**
     * Exact ids, except that from the recorded near-tie step on (top-2 margin < 1e-3, where float rounding may
     * pick the other token) a differing id must be among the reference's top-5 at that step; after a divergence
     * the prefixes differ, so later steps are not comparable and are not compared.
     */
    private static void assertGreedy(String id, JsonNode greedy, SafetensorsFile arrays, int[] actual) {
        int[] expected = GoldenText.ints(greedy.get("sequence"));
        JsonNode tie = greedy.get("first_near_tie_step(margin<1e-3)");
        int[] top5 = GoldenText.ints(arrays.tensor("greedy_step_top5_ids"));
        for (int i = 0; i < Math.min(expected.length, actual.length); i++) {
            if (expected[i] == actual[i]) {
                continue;
            }
            int step = i - 1;
            if (tie.isNull() || step < tie.asInt()) {
                fail(id + " greedy ids differ at position " + i + " (step " + step + ", no near tie before it):\n"
                        + "expected " + Arrays.toString(expected) + "\nactual   " + Arrays.toString(actual));
            }
            int[] candidates = Arrays.copyOfRange(top5, step * 5, step * 5 + 5);
            int token = actual[i];
            assertTrue(Arrays.stream(candidates).anyMatch(c -> c == token), id + " greedy step " + step
                    + ": id " + token + " not in the reference's top-5 " + Arrays.toString(candidates));
            return;
        }
        assertEquals(Arrays.toString(expected), Arrays.toString(actual), id + " greedy ids");
    }
}
