package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.Florence2;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code florence2 run --json} end to end on the tiny golden model, for every case of {@code index.json} greedy and
 * with 3 beams, at the goldens' {@code max_new_tokens}: the JSON's prompt, ids, text and post-processed result
 * equal the reference's exactly.
 */
class RunGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static CliRun.CachedModels models;
    private static JsonNode index;

    @BeforeAll
    static void load() throws IOException {
        models = new CliRun.CachedModels(Florence2::load);
        index = JSON.readTree(Files.readString(CliRun.goldenRoot().resolve("index.json")));
    }

    @AfterAll
    static void close() {
        models.close();
    }

    @Test
    void jsonEqualsTheGoldensForEveryCase() throws IOException {
        Path root = CliRun.goldenRoot();
        int checked = 0;
        for (JsonNode goldenCase : index.get("cases")) {
            String id = goldenCase.get("id").asText();
            for (String mode : List.of("greedy", "beam3")) {
                JsonNode expected = goldenCase.get("generate").get(mode);
                List<String> args = new ArrayList<>(List.of("run", "--model", root.resolve("model").toString(),
                        "--task", goldenCase.get("task").asText(), "--json", "--threads", "1",
                        "--num-beams", expected.get("kwargs").get("num_beams").asText(),
                        "--max-new-tokens", expected.get("kwargs").get("max_new_tokens").asText()));
                String text = goldenCase.get("text_input").asText();
                if (!text.isEmpty()) {
                    args.addAll(List.of("--text", text));
                }
                args.add(root.resolve("images/" + goldenCase.get("image").asText() + ".png").toString());
                CliRun.Result run = CliRun.run(models, args.toArray(String[]::new));
                String where = id + " " + mode;
                assertEquals(0, run.code(), where + ": " + run.err());
                JsonNode actual = JSON.readTree(run.out());
                assertEquals(goldenCase.get("prompt"), actual.get("prompt"), where + " prompt");
                assertEquals(goldenCase.get("input_ids"), actual.get("input_ids"), where + " input_ids");
                assertEquals(expected.get("sequence"), actual.get("generated_ids"), where + " generated_ids");
                assertEquals(expected.get("decoded_skip_special_false"), actual.get("text"), where + " text");
                assertEquals(expected.get("post_process_generation"), actual.get("result"), where + " result");
                checked++;
            }
        }
        assertEquals(120, checked);
    }
}
