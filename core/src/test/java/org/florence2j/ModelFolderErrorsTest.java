package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A model folder that cannot run is refused by {@link Florence2#load} with a {@link CheckpointException} naming the
 * file, the key or tensor, and the cause, never left to fail at the first request as an internal error.
 */
class ModelFolderErrorsTest {
    private static final Florence2Options ONE_THREAD = Florence2Options.defaults().withThreads(1);
    private static final RunOptions SHORT = RunOptions.defaults().withMaxNewTokens(2);
    private static final RunOptions FOUR_TOKENS = RunOptions.defaults().withMaxNewTokens(4);

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"I32", "I64", "U8", "F64"})
    void weightStoredInADtypeNoBackendComputesFromIsRefused(DType dtype) {
        try (Arena arena = Arena.ofConfined()) {
            TinyModelFolder model = TinyModelFolder.in(dir)
                    .replaceTensor("image_proj_norm.weight", Tensor.allocateHost(dtype, Shape.of(64), arena));
            assertRefused(model.path(), "model.safetensors", "'image_proj_norm.weight'", "dtype " + dtype,
                    "F32, F16 or BF16");
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "{\"height\": 97, \"width\": 96}; images come out 96x97; not a square number",
            "{\"height\": 2048, \"width\": 2048}; 64x64 feature map; max_pos_embeddings 50",
            "{\"height\": 1600, \"width\": 1600}; 2501 image tokens; max_position_embeddings 1024",
            "{\"shortest_edge\": 2048}; a square image comes out 2048x2048; max_pos_embeddings 50",
    })
    void imageSizeTheModelCannotTakeIsRefused(String size, String says, String because) {
        TinyModelFolder model = TinyModelFolder.in(dir)
                .editJson("preprocessor_config.json", root -> root.set("size", json(size)));
        assertRefused(model.path(), "preprocessor_config.json", says, because);
    }

    @Test
    void imageSmallerThanTheFirstKernelIsRefused() {
        TinyModelFolder model = TinyModelFolder.in(dir)
                .editJson("config.json", root -> ((ObjectNode) root.get("vision_config"))
                        .set("patch_padding", json("[0, 1, 1, 1]")))
                .editJson("preprocessor_config.json", root -> root.set("size", json("{\"height\": 4, \"width\": 4}")));
        assertRefused(model.path(), "preprocessor_config.json", "too small for the patch embeddings");
    }

    @Test
    void centerCropSizeIsTheOneChecked() {
        TinyModelFolder model = TinyModelFolder.in(dir).editJson("preprocessor_config.json", root -> {
            root.put("do_center_crop", true);
            root.set("crop_size", json("{\"height\": 97, \"width\": 96}"));
        });
        assertRefused(model.path(), "preprocessor_config.json", "images come out 96x97", "not a square number");
    }

    @Test
    void shortestEdgeRunsSquareImagesAndRefusesOthersAsInput() {
        TinyModelFolder folder = TinyModelFolder.in(dir)
                .editJson("preprocessor_config.json", root -> root.set("size", json("{\"shortest_edge\": 96}")));
        try (Florence2 model = Florence2.load(folder.path(), ONE_THREAD)) {
            Path images = TinyModelFolder.golden().resolveSibling("images");
            model.run(Florence2Request.of(images.resolve("gradient_160x160.png"), Task.CAPTION), SHORT);
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.run(
                    Florence2Request.of(images.resolve("checker_shapes_200x150.png"), Task.CAPTION), SHORT));
            assertTrue(e.getMessage().contains("resized to 128x96") && e.getMessage().contains("not a square number")
                    && e.getMessage().contains("preprocessor_config.json"), e.getMessage());
        }
    }

    /**
     * transformers' native Florence2MultiModalProjector takes the feature map's own height and width (only the remote
     * code asserts a square), so a native model runs a 3 × 4 map, and refuses one whose side its position table
     * cannot index.
     */
    @Test
    void aNativeModelRunsNonSquareFeatureMaps() {
        TinyModelFolder folder = TinyModelFolder.nativeIn(dir).editJson("preprocessor_config.json",
                root -> root.set("size", json("{\"height\": 97, \"width\": 96}")));
        try (Florence2 model = Florence2.load(folder.path(), ONE_THREAD)) {
            Path image = TinyModelFolder.golden().resolveSibling("images/checker_shapes_200x150.png");
            assertCaptioned(model.run(Florence2Request.of(image, Task.CAPTION), FOUR_TOKENS));
        }
        folder.editJson("preprocessor_config.json",
                root -> root.set("size", json("{\"height\": 96, \"width\": 2048}")));
        assertRefused(folder.path(), "preprocessor_config.json", "images come out 2048x96", "64x3 feature map",
                "max_position_embeddings 50");
    }

    @Test
    void windowLargerThanEveryFeatureMapRuns() {
        TinyModelFolder folder = TinyModelFolder.in(dir).editJson("config.json",
                root -> ((ObjectNode) root.get("vision_config")).put("window_size", 40));
        try (Florence2 model = Florence2.load(folder.path(), ONE_THREAD)) {
            Path image = TinyModelFolder.golden().resolveSibling("images/gradient_160x160.png");
            assertCaptioned(model.run(Florence2Request.of(image, Task.CAPTION), FOUR_TOKENS));
        }
    }

    /**
     * A window whose attention scores (window_size⁴ values for each head of each window) no tensor holds is refused
     * as the model loads: 1000 took a request to an OutOfMemoryError asking for 4 TB.
     */
    @Test
    void windowWhoseAttentionScoresNoTensorHoldsIsRefused() {
        for (int windowSize : new int[] {216, 1000, 40000}) {
            TinyModelFolder folder = TinyModelFolder.in(dir.resolve("window" + windowSize)).editJson("config.json",
                    root -> ((ObjectNode) root.get("vision_config")).put("window_size", windowSize));
            assertRefused(folder.path(), "config.json", "vision_config.window_size must be 1 to 215",
                    "window_size⁴", "got " + windowSize);
        }
    }

    @Test
    void whatIsNoModelFolderIsRefusedAsOneBeforeItsTokenizerIsRead() throws IOException {
        assertRefused(dir.resolve("nonexistent"), "nonexistent", "is not a folder", "does not exist");
        assertRefused(TinyModelFolder.golden().resolve("config.json"), "config.json", "is not a folder");
        assertRefused(Files.createSymbolicLink(dir.resolve("loop"), dir.resolve("loop")), "symbolic link loop");
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertRefused(empty, "no weights", "it holds nothing");
        Files.copy(TinyModelFolder.golden().resolve("config.json"), empty.resolve("config.json"));
        assertRefused(empty, "no weights", "it holds [config.json]");
    }

    @Test
    void tokenizerIdsBeyondTheVocabularyAreRefused() {
        TinyModelFolder model = TinyModelFolder.in(dir).editJson("tokenizer.json",
                root -> ((ObjectNode) root.get("model").get("vocab")).put("\u0120image", 70000));
        assertRefused(model.path(), "tokenizer.json", "'\u0120image' has id 70000", "vocab_size 51289");
    }

    private static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /**
     * A whole caption came back: the decoder start, the forced BOS, tokens chosen from the image and EOS (chosen, or
     * forced at the limit), each with a finite log-probability, the first chosen one below 0 (the model's
     * distribution spread over the vocabulary, not NaN or a single token).
     */
    private static void assertCaptioned(Florence2Result result) {
        Caption caption = assertInstanceOf(Caption.class, result);
        int[] ids = caption.generation().generatedIds();
        assertTrue(ids.length >= 3 && ids.length <= 6 && ids[0] == 2 && ids[1] == 0 && ids[ids.length - 1] == 2,
                Arrays.toString(ids));
        float[] scores = caption.generation().transitionScores();
        assertEquals(ids.length - 1, scores.length);
        for (float score : scores) {
            assertTrue(Float.isFinite(score) && score <= 0, Arrays.toString(scores));
        }
        assertTrue(scores[1] < 0, "the first chosen token's: " + Arrays.toString(scores));
    }

    private static void assertRefused(Path folder, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Florence2.load(folder, ONE_THREAD)
                .close());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "message lacks '" + fragment + "': " + e.getMessage());
        }
    }
}
