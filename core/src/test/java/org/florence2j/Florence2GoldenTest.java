package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole pipeline through the public API (image file → processor → tokenizer → model → generation → decode →
 * post-processing) on every golden case, for each checkpoint format a user downloads: remote-code safetensors,
 * the official {@code pytorch_model.bin}, and the transformers-native layout.
 *
 * <p>Expected values: {@code golden/tiny/index.json} for the remote-code folders (ids exact up to a recorded
 * greedy near-tie, decoded text and {@code post_process_generation} exact), and
 * {@code golden/tiny-native/expected.json} for the native folder, whose ids differ only because it has no
 * {@code final_logits_bias} (treated as zero) and a vocabulary padded to 51,328.
 */
class Florence2GoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_NEW_TOKENS = 32;

    static Stream<Arguments> folders() {
        return Stream.of(Arguments.of("tiny/model", false), Arguments.of("tiny-bin/model", false),
                Arguments.of("tiny-native/model", true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("folders")
    void everyGoldenCaseThroughThePublicApi(String folder, boolean nativeLayout) throws Exception {
        Path golden = goldenRoot();
        JsonNode index = JSON.readTree(golden.resolve("tiny/index.json").toFile());
        JsonNode nativeExpected = nativeLayout
                ? JSON.readTree(golden.resolve("tiny-native/expected.json").toFile()).get("cases") : null;
        Map<String, List<JsonNode>> casesByImage = new LinkedHashMap<>();
        for (JsonNode testCase : index.get("cases")) {
            casesByImage.computeIfAbsent(testCase.get("image").asText(), k -> new ArrayList<>()).add(testCase);
        }
        int compared = 0;
        // One thread: the tiny model's ops are too small for OpenMP to pay off on a shared 2-core CI machine.
        Florence2Options oneThread = Florence2Options.defaults().withThreads(1);
        try (Florence2 model = Florence2.load(golden.resolve(folder), oneThread)) {
            for (Map.Entry<String, List<JsonNode>> image : casesByImage.entrySet()) {
                Path file = golden.resolve("tiny/images/" + image.getKey() + ".png");
                List<Florence2Request> requests = new ArrayList<>();
                for (JsonNode testCase : image.getValue()) {
                    String text = testCase.get("text_input").asText();
                    Task task = Task.fromToken(testCase.get("task").asText());
                    requests.add(new Florence2Request(ImageSource.of(file), task, text.isEmpty() ? null : text));
                }
                for (String search : List.of("greedy", "beam3")) {
                    RunOptions options = RunOptions.defaults().withMaxNewTokens(MAX_NEW_TOKENS)
                            .withNumBeams(search.equals("greedy") ? 1 : 3);
                    List<Florence2Result> results = model.runBatch(requests, options);
                    for (int i = 0; i < results.size(); i++) {
                        JsonNode testCase = image.getValue().get(i);
                        Generation generation = results.get(i).generation();
                        String where = folder + " " + testCase.get("id").asText() + " " + search;
                        assertArrayEquals(ints(testCase.get("input_ids")), generation.inputIds(),
                                where + " input_ids");
                        if (nativeLayout) {
                            int[] expected = ints(nativeExpected.get(testCase.get("id").asText()).get(search));
                            assertArrayEquals(expected, generation.generatedIds(), where + " generated ids");
                        } else {
                            compareWithIndex(where, testCase.get("generate").get(search), search, generation);
                        }
                        compared++;
                    }
                }
            }
        }
        assertEquals(2 * index.get("cases").size(), compared);
    }

    private static void compareWithIndex(String where, JsonNode expected, String search, Generation generation)
            throws IOException {
        int[] expectedIds = ints(expected.get("sequence"));
        JsonNode nearTie = expected.get("first_near_tie_step(margin<1e-3)");
        if (search.equals("greedy") && nearTie != null && !nearTie.isNull()) {
            // Past a recorded near-tie float32 rounding may pick the other token; compare up to the tie only.
            int upTo = nearTie.asInt() + 1;
            assertArrayEquals(Arrays.copyOf(expectedIds, upTo), Arrays.copyOf(generation.generatedIds(), upTo),
                    where + " ids up to the near-tie at step " + nearTie.asInt());
            return;
        }
        assertArrayEquals(expectedIds, generation.generatedIds(), where + " generated ids");
        assertEquals(expected.get("decoded_skip_special_false").asText(), generation.text(), where + " text");
        assertEquals(expected.get("post_process_generation"), JSON.valueToTree(generation.referenceResult()),
                where + " post_process_generation");
    }

    private static int[] ints(JsonNode array) {
        int[] values = new int[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).asInt();
        }
        return values;
    }

    private static Path goldenRoot() throws URISyntaxException {
        return Path.of(Florence2GoldenTest.class.getResource("/golden/tiny/index.json").toURI()).getParent()
                .getParent();
    }
}
