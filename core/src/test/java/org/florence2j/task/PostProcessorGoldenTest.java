package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.StreamSupport;

import com.fasterxml.jackson.databind.JsonNode;
import org.florence2j.Task;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every post-processing golden, compared exactly (values, keys, key order): the crafted strings and score-path
 * cases of {@code postprocess.json}, and the greedy and beam-3 outputs of every case in {@code index.json}.
 */
class PostProcessorGoldenTest {

    @TestFactory
    List<DynamicTest> craftedTextCases() {
        List<DynamicTest> tests = new ArrayList<>();
        int i = 0;
        for (JsonNode c : Golden.read("postprocess.json").get("text_cases")) {
            String task = c.get("task").asText();
            String text = c.get("text").asText();
            int width = c.get("image_size_wh").get(0).asInt();
            int height = c.get("image_size_wh").get(1).asInt();
            tests.add(DynamicTest.dynamicTest("text_cases[" + i++ + "] " + task + " " + width + "x" + height,
                    () -> assertEquals(Golden.render(c.get("result")),
                            Golden.render(textPath(task, text, width, height)), text)));
        }
        assertEquals(90, tests.size());
        return tests;
    }

    @TestFactory
    List<DynamicTest> craftedScoreCases() {
        List<DynamicTest> tests = new ArrayList<>();
        int i = 0;
        for (JsonNode c : Golden.read("postprocess.json").get("score_cases")) {
            Task task = Task.fromToken(c.get("task").asText());
            int width = c.get("image_size_wh").get(0).asInt();
            int height = c.get("image_size_wh").get(1).asInt();
            ScoredTokens tokens = ScoredTokens.of(ints(c.get("sequence")), floats(c.get("transition_beam_score")),
                    TokenPieces::pieceOf);
            tests.add(DynamicTest.dynamicTest("score_cases[" + i++ + "] " + task + " " + width + "x" + height,
                    () -> assertEquals(Golden.render(c.get("result")),
                            Golden.render(PostProcessor.process(task, tokens, width, height).toReferenceJson(task)))));
        }
        assertEquals(8, tests.size());
        return tests;
    }

    @TestFactory
    List<DynamicTest> indexCases() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Golden.read("index.json").get("cases")) {
            Task task = Task.fromToken(c.get("task").asText());
            int width = c.get("image_size_wh").get(0).asInt();
            int height = c.get("image_size_wh").get(1).asInt();
            for (String search : List.of("greedy", "beam3")) {
                JsonNode generated = c.get("generate").get(search);
                String text = generated.get("decoded_skip_special_false").asText();
                tests.add(DynamicTest.dynamicTest(c.get("id").asText() + " " + search,
                        () -> assertEquals(Golden.render(generated.get("post_process_generation")),
                                Golden.render(PostProcessor.process(task, text, width, height).toReferenceJson(task)),
                                text)));
            }
            JsonNode beam = c.get("generate").get("beam3");
            ScoredTokens tokens = ScoredTokens.of(ints(beam.get("sequence")), floats(beam.get("transition_scores")),
                    TokenPieces::pieceOf);
            tests.add(DynamicTest.dynamicTest(c.get("id").asText() + " beam3 with scores",
                    () -> assertEquals(Golden.render(beam.get("post_process_generation_with_scores")),
                            Golden.render(PostProcessor.process(task, tokens, width, height).toReferenceJson(task)),
                            tokens.text())));
        }
        assertEquals(180, tests.size());
        return tests;
    }

    /** The reference falls back to pure text for a task it does not know; our tasks are an enum, so say so. */
    private static Object textPath(String token, String text, int width, int height) {
        boolean known = Arrays.stream(Task.values()).anyMatch(t -> t.token().equals(token));
        if (!known) {
            assertTrue(token.equals("<UNKNOWN_TASK>"), token);
            return PostProcessor.parse(ParseType.PURE_TEXT, text, null, width, height).toReferenceJson(token);
        }
        Task task = Task.fromToken(token);
        return PostProcessor.process(task, text, width, height).toReferenceJson(task);
    }

    private static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    /** Transition scores: the reference's are float32 tensors (the JSON shows them rounded). */
    private static float[] floats(JsonNode array) {
        float[] values = new float[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) array.get(i).asDouble();
        }
        return values;
    }
}
