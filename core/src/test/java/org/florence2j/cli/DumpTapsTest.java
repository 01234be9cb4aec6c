package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.Florence2;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run --dump-taps} on the CPU for the four golden images (one folder argument, one file per image): every
 * tap within the golden tolerance of the reference's arrays, {@code resized_uint8_hwc} exact and still U8.
 */
class DumpTapsTest {
    private static final List<String> STAGE_TAPS = List.of("davit_stage0_after_conv", "davit_stage0_out",
            "davit_stage1_after_conv", "davit_stage1_out", "davit_stage2_after_conv", "davit_stage2_out",
            "davit_stage3_after_conv", "davit_stage3_out", "image_features");
    private static CliRun.CachedModels models;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        models = new CliRun.CachedModels(Florence2::load);
    }

    @AfterAll
    static void close() {
        models.close();
    }

    @Test
    void tapsOfEveryImageMatchTheGoldens() throws IOException {
        Path root = CliRun.goldenRoot();
        JsonNode index = new ObjectMapper().readTree(Files.readString(root.resolve("index.json")));
        Path taps = temp.resolve("taps.safetensors");
        CliRun.Result run = CliRun.run(models, "run", "--model", root.resolve("model").toString(), "--num-beams", "1",
                "--max-new-tokens", "2", "--dump-taps", taps.toString(), root.resolve("images").toString());
        assertEquals(0, run.code(), run.err());
        JsonNode images = index.get("images");
        List<String> sorted = java.util.stream.StreamSupport.stream(images.spliterator(), false)
                .map(image -> image.get("png").asText()).sorted().toList();
        for (int i = 0; i < images.size(); i++) {
            JsonNode image = images.get(i);
            int position = sorted.indexOf(image.get("png").asText()); // a folder runs in name order
            Path dumped = temp.resolve("taps-" + position + ".safetensors");
            try (SafetensorsFile actual = SafetensorsFile.open(dumped);
                    SafetensorsFile expected = SafetensorsFile.open(root.resolve(image.get("arrays_file").asText()));
                    SafetensorsFile caseArrays = SafetensorsFile.open(root.resolve("cases/case_img" + i
                            + "_task0.safetensors"))) {
                String name = image.get("name").asText();
                assertEquals("<CAPTION>", actual.metadata().get("task"), name);
                assertEquals("<CAPTION>", actual.metadata().get("prompt"), name);
                Tensor resized = actual.tensor("resized_uint8_hwc");
                assertEquals(DType.U8, resized.dtype(), name);
                assertEquals(expected.tensor("resized_uint8_hwc").shape(), resized.shape(), name);
                assertArrayEquals(expected.tensor("resized_uint8_hwc").memory().toArray(ValueLayout.JAVA_BYTE),
                        resized.memory().toArray(ValueLayout.JAVA_BYTE), name + " resized_uint8_hwc");
                Tolerance.PIXEL.assertClose(name + " pixel_values", expected.tensor("pixel_values"),
                        actual.tensor("pixel_values"));
                for (String tap : STAGE_TAPS) {
                    Tolerance.assertStageClose(name + " " + tap, expected.tensor(tap), actual.tensor(tap));
                }
                for (String tap : List.of("encoder_inputs_embeds", "encoder_last_hidden_state")) {
                    Tolerance.assertStageClose(name + " " + tap, caseArrays.tensor(tap), actual.tensor(tap));
                }
            }
        }
    }
}
