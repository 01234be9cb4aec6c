package org.florence2j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.florence2j.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link NativeConfigReader} reads a transformers-native {@code config.json} as transformers' own config classes do
 * ({@code Florence2VisionConfig}, {@code BartConfig}): fields left out take their defaults, and only the keys the
 * native model reads count, not the remote-code names a converted config carries beside them. Its generation
 * settings are those {@code from_pretrained(folder).generate(...)} runs with (transformers 4.57): the
 * {@code generation_config.json} alone when there is one, else the model config. The counterpart of
 * {@link RemoteConfigSemanticsTest}.
 */
class NativeConfigSemanticsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-native/model");

    @TempDir
    Path dir;

    private static ObjectNode tinyNative() throws IOException {
        return (ObjectNode) JSON.readTree(MODEL.resolve("config.json").toFile());
    }

    private static ObjectNode vision(ObjectNode root) {
        return (ObjectNode) root.get("vision_config");
    }

    private static ObjectNode text(ObjectNode root) {
        return (ObjectNode) root.get("text_config");
    }

    /** The shipped one: ids 0/2/1/2, forced BOS 0 and EOS 2, 3 beams, no repeated 3-grams, early stopping. */
    private static ObjectNode generationConfig() throws IOException {
        return (ObjectNode) JSON.readTree(MODEL.resolve("generation_config.json").toFile());
    }

    private static Florence2Config parse(ObjectNode root) throws IOException {
        return NativeConfigReader.parse(root, generationConfig());
    }

    @Test
    void missingVisionFieldsTakeTheNativeDefaults() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).remove(List.of("patch_size", "patch_stride", "patch_padding", "patch_prenorm", "window_size",
                "max_position_embeddings", "max_temporal_embeddings"));
        VisionConfig vision = parse(root).vision();
        assertEquals(List.of(7, 3, 3, 3), vision.patchSize());
        assertEquals(List.of(4, 2, 2, 2), vision.patchStride());
        assertEquals(List.of(3, 1, 1, 1), vision.patchPadding());
        assertEquals(List.of(false, true, true, true), vision.patchPrenorm());
        assertEquals(12, vision.windowSize());
        assertEquals(50, vision.maxPosEmbeddings());
        assertEquals(100, vision.maxTemporalEmbeddings());
    }

    @Test
    void missingStageListsTakeTheNativeDefaultsNotTheLegacyDimEmbed() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).remove(List.of("embed_dim", "num_heads", "num_groups", "depths"));
        VisionConfig vision = parse(root).vision();
        assertEquals(List.of(128, 256, 512, 1024), vision.dimEmbed(), "dim_embed [16, 32, 48, 64] is not read");
        assertEquals(List.of(4, 8, 16, 32), vision.numHeads());
        assertEquals(List.of(4, 8, 16, 32), vision.numGroups());
        assertEquals(List.of(1, 1, 9, 1), vision.depths());
    }

    @Test
    void theRemoteNamesBesideTheLiveKeysAreNotRead() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).set("dim_embed", JSON.valueToTree(List.of(8, 16, 24, 32)));
        vision(root).put("max_pos_embeddings", 7);
        ((ObjectNode) vision(root).get("image_pos_embed")).put("max_pos_embeddings", 7);
        ((ObjectNode) vision(root).get("visual_temporal_embedding")).put("max_temporal_embeddings", 9);
        VisionConfig vision = parse(root).vision();
        assertEquals(List.of(16, 32, 48, 64), vision.dimEmbed());
        assertEquals(50, vision.maxPosEmbeddings());
        assertEquals(100, vision.maxTemporalEmbeddings());

        vision(root).remove(List.of("max_position_embeddings", "max_temporal_embeddings"));
        vision = parse(root).vision();
        assertEquals(50, vision.maxPosEmbeddings(), "a missing live key takes its default, not the remote name");
        assertEquals(100, vision.maxTemporalEmbeddings());
    }

    @Test
    void theFeatureSourcesAreAlwaysTheMeanTokenThenTheTokens() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).set("image_feature_source", JSON.valueToTree(List.of("last_frame")));
        assertEquals(List.of("spatial_avg_pool", "temporal_avg_pool"), parse(root).vision().imageFeatureSource());
    }

    @Test
    void theMlpRatioAndQkvBiasAreRead() throws IOException {
        ObjectNode root = tinyNative();
        VisionConfig vision = parse(root).vision();
        assertEquals(64, vision.mlpHidden(0));
        assertTrue(vision.qkvBias());
        vision(root).put("mlp_ratio", 2.5);
        vision(root).put("qkv_bias", false);
        vision = parse(root).vision();
        assertEquals(List.of(40, 80, 120, 160), IntStream.range(0, 4).mapToObj(vision::mlpHidden).toList());
        assertFalse(vision.qkvBias());
        vision(root).put("mlp_ratio", 1.99);
        assertEquals(31, parse(root).vision().mlpHidden(0), "int() truncates 31.84");
    }

    @Test
    void missingMlpRatioQkvBiasActivationAndChannelsTakeTheDefaults() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).remove(List.of("mlp_ratio", "qkv_bias", "activation_function", "in_channels"));
        VisionConfig vision = parse(root).vision();
        assertEquals(4.0, vision.mlpRatio());
        assertTrue(vision.qkvBias());
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = ';', value = {
            "activation_function; \"gelu_new\"; vision_config.activation_function \"gelu_new\" is not supported",
            "activation_function; \"relu\"; vision_config.activation_function \"relu\" is not supported",
            "activation_function; null; vision_config.activation_function null is not supported",
            "in_channels; 4; vision_config.in_channels 4 is not supported: florence2j implements only 3",
            "in_channels; 3.0; vision_config.in_channels 3.0 is not supported",
            "mlp_ratio; 0.01; vision_config: stage 0 MLP width int(embed_dim 16 × mlp_ratio 0.01) = 0 must be 1 to",
            "embed_dim; [16, 32, 48, 0]; vision_config.embed_dim must hold integers from 1",
            "max_position_embeddings; 0; vision_config.max_position_embeddings must be positive",
            "max_temporal_embeddings; -1; vision_config.max_temporal_embeddings must be positive",
    })
    void settingsThisEngineDoesNotRunAreRefusedNamingTheKey(String key, String value, String says)
            throws IOException {
        ObjectNode root = tinyNative();
        vision(root).set(key, JSON.readTree(value));
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(root));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> NativeConfigReader.read(config, MODEL.resolve("generation_config.json")));
        assertTrue(e.getMessage().contains("config.json: " + says), e.getMessage());
    }

    @Test
    void missingTextFieldsTakeBartConfigsDefaults() throws IOException {
        ObjectNode root = tinyNative();
        text(root).remove(List.of("vocab_size", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "max_position_embeddings",
                "activation_function", "scale_embedding"));
        TextConfig text = parse(root).text();
        assertEquals(50265, text.vocabSize());
        assertEquals(12, text.encoderLayers());
        assertEquals(12, text.decoderLayers());
        assertEquals(16, text.encoderAttentionHeads());
        assertEquals(16, text.decoderAttentionHeads());
        assertEquals(4096, text.encoderFfnDim());
        assertEquals(4096, text.decoderFfnDim());
        assertEquals(1024, text.maxPositionEmbeddings());
        assertEquals("gelu", text.activationFunction());
        assertEquals(false, text.scaleEmbedding());
    }

    @Test
    void aSettingTheGenerationConfigLeavesOutTakesItsDefaultNotTextConfigs() throws IOException {
        // GenerationConfig.from_pretrained builds it from the file alone, and generate() uses it as it is.
        ObjectNode root = tinyNative();
        text(root).put("num_beams", 5).put("no_repeat_ngram_size", 3).put("early_stopping", true)
                .put("forced_bos_token_id", 0).put("forced_eos_token_id", 2).put("length_penalty", 2.0)
                .put("min_length", 5).put("repetition_penalty", 1.5);
        ObjectNode generation = generationConfig();
        generation.remove(List.of("no_repeat_ngram_size", "early_stopping", "forced_bos_token_id",
                "forced_eos_token_id"));
        TextConfig text = NativeConfigReader.parse(root, generation).text();
        assertEquals(3, text.numBeams(), "set in both: generation_config.json's");
        assertEquals(0, text.noRepeatNgramSize());
        assertEquals(EarlyStopping.FALSE, text.earlyStopping());
        assertNull(text.forcedBosTokenId());
        assertNull(text.forcedEosTokenId());
        assertEquals(1.0, text.lengthPenalty());
        assertEquals(0, text.minLength());
        // text_config's repetition_penalty, which florence2j would refuse, is not what generate() runs with.
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"absent; ", "not JSON; {\"num_beams\": 1", "a folder; ", "empty; ''",
            "blank; '   '"})
    void withoutAUsableGenerationConfigTheSettingsComeFromTheModelConfig(String what, String content)
            throws IOException {
        // from_pretrained catches the OSError of GenerationConfig.from_pretrained and keeps from_model_config(config):
        // text_config's values, BartConfig's token ids where it has none.
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(tinyNative()));
        Path generation = dir.resolve("generation_config.json");
        if (content != null) {
            Files.writeString(generation, content);
        } else if (what.equals("a folder")) {
            Files.createDirectory(generation);
        }
        TextConfig text = NativeConfigReader.read(config, generation).text();
        assertEquals(3, text.numBeams());
        assertEquals(3, text.noRepeatNgramSize());
        assertEquals(EarlyStopping.TRUE, text.earlyStopping());
        assertEquals(0, text.forcedBosTokenId());
        assertEquals(2, text.forcedEosTokenId(), "BartConfig's default");
        assertEquals(List.of(0, 2, 1, 2), List.of(text.bosTokenId(), text.eosTokenId(), text.padTokenId(),
                text.decoderStartTokenId()), "BartConfig's defaults");
    }

    @Test
    void anUnsupportedSettingOfTheGenerationConfigIsThatFilesFault() throws IOException {
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(tinyNative()));
        ObjectNode settings = (ObjectNode) JSON.readTree(MODEL.resolve("generation_config.json").toFile());
        Path generation = Files.writeString(dir.resolve("generation_config.json"),
                JSON.writeValueAsString(settings.put("repetition_penalty", 1.5)));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> NativeConfigReader.read(config, generation));
        assertEquals(generation, e.file());
        assertTrue(e.getMessage().contains("generation_config.json.repetition_penalty 1.5 is not supported"),
                e.getMessage());
    }

    /**
     * A generation setting that generation_config.json gives a wrong type or value is refused naming that file and
     * the key as the file has it (every such fault named config.json before).
     */
    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = ';', value = {
            "eos_token_id; \"x\"; eos_token_id must be an integer, got \"x\"",
            "num_beams; 0; num_beams must be at least 1, got 0",
            "forced_bos_token_id; 999999; forced_bos_token_id 999999 is outside the vocabulary [0, 51328) of"
                    + " text_config.vocab_size",
            "no_repeat_ngram_size; [3]; no_repeat_ngram_size must be an integer, got [3]"})
    void aGenerationSettingTheGenerationConfigGetsWrongIsThatFilesFault(String key, String value, String says)
            throws IOException {
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(tinyNative()));
        ObjectNode settings = generationConfig();
        settings.set(key, JSON.readTree(value));
        Path generation = Files.writeString(dir.resolve("generation_config.json"), JSON.writeValueAsString(settings));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> NativeConfigReader.read(config, generation));
        assertEquals(generation, e.file());
        assertTrue(e.getMessage().endsWith("generation_config.json: " + says), e.getMessage());

        ObjectNode withoutTheFile = tinyNative();
        text(withoutTheFile).set(key, JSON.readTree(value));
        Path modelConfig = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(withoutTheFile));
        CheckpointException fromModel = assertThrows(CheckpointException.class,
                () -> NativeConfigReader.read(modelConfig, dir.resolve("absent/generation_config.json")));
        assertEquals(modelConfig, fromModel.file(), "without the file, the settings and their faults are config.json's");
        assertTrue(fromModel.getMessage().endsWith("config.json: text_config." + says), fromModel.getMessage());
    }

    /** A native vision config's mistyped width is named by its own key, embed_dim, not the remote dim_embed. */
    @Test
    void aMistypedNativeWidthIsNamedByTheNativeKey() throws IOException {
        ObjectNode root = tinyNative();
        vision(root).put("embed_dim", "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(root));
        assertEquals("vision_config.embed_dim must be a list, got \"x\"", e.getMessage());
        vision(root).putArray("embed_dim").add(16).add("x").add(48).add(64);
        e = assertThrows(IllegalArgumentException.class, () -> parse(root));
        assertEquals("vision_config.embed_dim[1] must be an integer, got \"x\"", e.getMessage());
    }

    @Test
    void aGenerationConfigThatIsJsonButNoObjectIsRefused() throws IOException {
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(tinyNative()));
        Path generation = Files.writeString(dir.resolve("generation_config.json"), "[1]");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> NativeConfigReader.read(config, generation));
        assertTrue(e.getMessage().contains("generation_config.json: is not a JSON object"), e.getMessage());
    }

    @Test
    void aTopLevelGenerationParameterMakesAFileFromTheModelConfigGiveWayToTheModelConfig() throws IOException {
        // _prepare_generation_config's legacy path: _from_model_config, an unmodified generation config, and a
        // non-default generation parameter at the top level of config.json (text_config's do not count).
        ObjectNode root = tinyNative();
        root.put("no_repeat_ngram_size", 4);
        ObjectNode generation = generationConfig();
        generation.remove("forced_eos_token_id");
        TextConfig text = NativeConfigReader.parse(root, generation).text();
        assertEquals(4, text.noRepeatNgramSize(), "the top level's");
        assertEquals(3, text.numBeams(), "text_config's");
        assertEquals(2, text.forcedEosTokenId(), "BartConfig's default, not the file's absence");

        generation.put("_from_model_config", false);
        text = NativeConfigReader.parse(root, generation).text();
        assertEquals(3, text.noRepeatNgramSize(), "not from the model config: the file's");
        assertNull(text.forcedEosTokenId());

        generation.put("_from_model_config", true);
        root.remove("no_repeat_ngram_size");
        text(root).put("no_repeat_ngram_size", 4);
        text = NativeConfigReader.parse(root, generation).text();
        assertEquals(3, text.noRepeatNgramSize(), "a text_config parameter does not start the legacy path");
        assertNull(text.forcedEosTokenId());
    }

    @Test
    void aMissingDecoderStartIsTheBosAndAMissingPadIsTheEos() throws IOException {
        // _prepare_special_tokens, not text_config (whose BartConfig defaults would be 2 and 1).
        ObjectNode generation = generationConfig();
        generation.remove(List.of("decoder_start_token_id", "pad_token_id"));
        TextConfig text = NativeConfigReader.parse(tinyNative(), generation).text();
        assertEquals(0, text.decoderStartTokenId());
        assertEquals(2, text.padTokenId());

        generation = generationConfig();
        generation.remove("bos_token_id");
        text = NativeConfigReader.parse(tinyNative(), generation).text();
        assertNull(text.bosTokenId(), "generate() needs none when the decoder start is set");
        assertEquals(2, text.decoderStartTokenId());
    }

    @ParameterizedTest(name = "without {0}")
    @CsvSource(delimiter = ';', value = {
            "decoder_start_token_id, bos_token_id; have neither decoder_start_token_id nor bos_token_id",
            "eos_token_id; have no eos_token_id: native generate() would then never stop"})
    void aGenerationConfigWithoutADecoderStartOrEosIsRefused(String removed, String says) throws IOException {
        ObjectNode generation = generationConfig();
        generation.remove(List.of(removed.split(", ")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NativeConfigReader.parse(tinyNative(), generation));
        assertTrue(e.getMessage().contains("from generation_config.json, " + says), e.getMessage());
    }
}
