package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.florence2j.Task;
import org.junit.jupiter.api.Test;

/**
 * Random model outputs against the reference's own post-processing, exactly (values, keys, key order): 3,000 texts
 * (200 a task, every parse type, image sizes from 1 × 1 to 100,000 × 3) and 500 score-path cases (token pieces and
 * float32 scores for the five tasks that score boxes). The expected results were computed by the reference's
 * {@code post_process_generation} itself; how is in {@code postprocess/README.md}. Where {@link PostProcessorFuzzTest}
 * asks only for a result or a typed error, this asks for the reference's result.
 */
class PostProcessorReferenceFuzzTest {
    @Test
    void randomTextsParseAsTheReferenceParsesThem() throws IOException {
        Map<Task, Integer> compared = compareAll("reference-text.jsonl", c -> {
            Task task = Task.fromToken(c.get("task").asText());
            return PostProcessor.process(task, c.get("text").asText(), c.get("w").asInt(), c.get("h").asInt())
                    .toReferenceJson(task);
        });
        assertEquals(Task.values().length, compared.size(), "every task: " + compared);
        compared.forEach((task, count) -> assertEquals(200, count, task.token()));
    }

    @Test
    void randomScoredTokensParseAsTheReferenceParsesThem() throws IOException {
        Map<Task, Integer> compared = compareAll("reference-scored.jsonl", c -> {
            Task task = Task.fromToken(c.get("task").asText());
            List<String> pieces = new ArrayList<>();
            c.get("pieces").forEach(piece -> pieces.add(piece.asText()));
            float[] scores = new float[c.get("scores").size()];
            for (int i = 0; i < scores.length; i++) {
                scores[i] = (float) c.get("scores").get(i).asDouble();
            }
            return PostProcessor.process(task, new ScoredTokens(pieces, scores), c.get("w").asInt(),
                    c.get("h").asInt()).toReferenceJson(task);
        });
        assertEquals(5, compared.size(), "the tasks that score boxes: " + compared);
        compared.forEach((task, count) -> assertEquals(100, count, task.token()));
    }

    /**
     * Compares every case of {@code file} with what {@code parse} makes of it; fails naming the first few that
     * differ. Returns how many cases each task had.
     */
    private static Map<Task, Integer> compareAll(String file, Function<JsonNode, Object> parse) throws IOException {
        Map<Task, Integer> compared = new EnumMap<>(Task.class);
        List<String> differing = new ArrayList<>();
        int differ = 0;
        String path = "/postprocess/" + file;
        try (InputStream in = PostProcessorReferenceFuzzTest.class.getResourceAsStream(path)) {
            assertTrue(in != null, "test resource " + path + " missing");
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            int line = 0;
            for (String json = lines.readLine(); json != null; json = lines.readLine()) {
                line++;
                JsonNode c = Golden.JSON.readTree(json);
                String expected = Golden.render(c.get("expected"));
                String actual = Golden.render(parse.apply(c));
                if (!expected.equals(actual) && differ++ < 5) {
                    differing.add(file + ":" + line + " " + c.get("task").asText() + "\n  expected " + expected
                            + "\n  actual   " + actual);
                }
                compared.merge(Task.fromToken(c.get("task").asText()), 1, Integer::sum);
            }
        }
        assertEquals(0, differ, differ + " cases differ, the first:\n" + String.join("\n", differing));
        return compared;
    }
}
