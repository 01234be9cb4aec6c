package org.florence2j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link ConfigReader} reads a remote-code {@code config.json} as the reference's config classes do: fields left
 * out take {@code Florence2VisionConfig}'s and {@code Florence2LanguageConfig}'s defaults, fields the reference
 * never reads (the top-level {@code projection_dim}, {@code normalize_before}) do not refuse a model,
 * {@code early_stopping} takes all three of its values, and generation settings florence2j does not implement are
 * refused when set, not ignored.
 */
class RemoteConfigSemanticsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path TINY_CONFIG = Path.of("src/test/resources/golden/tiny/model/config.json");

    private static ObjectNode tiny() throws IOException {
        return (ObjectNode) JSON.readTree(TINY_CONFIG.toFile());
    }

    private static ObjectNode vision(ObjectNode root) {
        return (ObjectNode) root.get("vision_config");
    }

    private static ObjectNode text(ObjectNode root) {
        return (ObjectNode) root.get("text_config");
    }

    @Test
    void theTopLevelProjectionDimIsNotRead() throws IOException {
        ObjectNode root = tiny();
        root.put("projection_dim", 1024); // Florence2Config's default, when a config is built without passing it
        Florence2Config config = ConfigReader.parse(root);
        assertEquals(64, config.projectionDim());
        assertEquals(config.text().dModel(), config.projectionDim());
    }

    @Test
    void aVisionProjectionOtherThanTheTextWidthIsRefused() throws IOException {
        ObjectNode root = tiny();
        vision(root).put("projection_dim", 32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReader.parse(root));
        assertTrue(e.getMessage().contains("vision_config.projection_dim 32"), e.getMessage());
        assertTrue(e.getMessage().contains("d_model 64"), e.getMessage());
    }

    @Test
    void missingVisionFieldsTakeTheReferenceDefaults() throws IOException {
        ObjectNode root = tiny();
        vision(root).remove(List.of("window_size", "image_feature_source", "patch_prenorm", "patch_padding"));
        VisionConfig vision = ConfigReader.parse(root).vision();
        assertEquals(12, vision.windowSize());
        assertEquals(List.of("spatial_avg_pool", "temporal_avg_pool"), vision.imageFeatureSource());
        assertEquals(List.of(false, true, true, true), vision.patchPrenorm());
        assertEquals(List.of(3, 1, 1, 1), vision.patchPadding());
    }

    /**
     * DaViT asserts only that dim_embed, num_heads and num_groups agree and indexes the other lists by stage, so a
     * 3-stage config that leaves depths and patch_* at the 4-entry defaults builds, as does a longer list.
     */
    @Test
    void perStageListsLongerThanTheStagesKeepTheirFirstEntries() throws IOException {
        ObjectNode root = tiny();
        vision(root).set("dim_embed", JSON.valueToTree(List.of(16, 32, 48)));
        vision(root).set("num_heads", JSON.valueToTree(List.of(1, 2, 3)));
        vision(root).set("num_groups", JSON.valueToTree(List.of(2, 2, 4)));
        vision(root).remove(List.of("depths", "patch_size", "patch_stride", "patch_padding", "patch_prenorm"));
        VisionConfig vision = ConfigReader.parse(root).vision();
        assertEquals(3, vision.stages());
        assertEquals(List.of(1, 1, 9), vision.depths());
        assertEquals(List.of(7, 3, 3), vision.patchSize());
        assertEquals(List.of(4, 2, 2), vision.patchStride());
        assertEquals(List.of(3, 1, 1), vision.patchPadding());
        assertEquals(List.of(false, true, true), vision.patchPrenorm());

        vision(root).set("depths", JSON.valueToTree(List.of(1, 2, 1, 5, -5)));
        assertEquals(List.of(1, 2, 1), ConfigReader.parse(root).vision().depths());
        // The drop-path schedule spans sum(depths) * 2 entries, unread stages' included: fewer than the blocks fail.
        vision(root).set("depths", JSON.valueToTree(List.of(1, 2, 1, -1)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReader.parse(root));
        assertTrue(e.getMessage().contains("vision_config.depths [1, 2, 1, -1]"), e.getMessage());
    }

    /** DaViT.from_config passes none of these keys: the remote DaViT keeps mlp_ratio 4, q/k/v biases, GELU, RGB. */
    @Test
    void nativeOnlyVisionKeysAreNotRead() throws IOException {
        ObjectNode root = tiny();
        vision(root).put("mlp_ratio", 2.0);
        vision(root).put("qkv_bias", false);
        vision(root).put("activation_function", "relu");
        vision(root).put("in_channels", 4);
        VisionConfig vision = ConfigReader.parse(root).vision();
        assertEquals(4.0, vision.mlpRatio());
        assertEquals(64, vision.mlpHidden(0));
        assertTrue(vision.qkvBias());
    }

    @Test
    void missingTextFieldsTakeTheReferenceDefaults() throws IOException {
        ObjectNode root = tiny();
        text(root).remove(List.of("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
                "forced_eos_token_id", "forced_bos_token_id", "scale_embedding", "activation_function",
                "max_position_embeddings", "early_stopping", "num_beams", "no_repeat_ngram_size"));
        TextConfig text = ConfigReader.parse(root).text();
        assertEquals(1, text.padTokenId());
        assertEquals(0, text.bosTokenId());
        assertEquals(2, text.eosTokenId());
        assertEquals(2, text.decoderStartTokenId());
        assertEquals(2, text.forcedEosTokenId());
        assertNull(text.forcedBosTokenId());
        assertEquals(1024, text.maxPositionEmbeddings());
        assertEquals(EarlyStopping.FALSE, text.earlyStopping());
        assertEquals(1, text.numBeams());
        assertEquals(0, text.noRepeatNgramSize());
    }

    @Test
    void anExplicitNullForcedEosForcesNothing() throws IOException {
        ObjectNode root = tiny();
        text(root).putNull("forced_eos_token_id");
        assertNull(ConfigReader.parse(root).text().forcedEosTokenId());
    }

    @Test
    void theLegacyForceBosFlagForcesTheBosToken() throws IOException {
        ObjectNode root = tiny();
        text(root).remove("forced_bos_token_id");
        text(root).put("bos_token_id", 7);
        text(root).put("force_bos_token_to_be_generated", true);
        assertEquals(7, ConfigReader.parse(root).text().forcedBosTokenId());
        text(root).put("forced_bos_token_id", 5);
        assertEquals(5, ConfigReader.parse(root).text().forcedBosTokenId(), "an explicit forced BOS wins");
    }

    @Test
    void earlyStoppingTakesTrueFalseAndNever() throws IOException {
        ObjectNode root = tiny();
        assertEquals(EarlyStopping.TRUE, ConfigReader.parse(root).text().earlyStopping());
        text(root).put("early_stopping", false);
        assertEquals(EarlyStopping.FALSE, ConfigReader.parse(root).text().earlyStopping());
        text(root).put("early_stopping", "never");
        assertEquals(EarlyStopping.NEVER, ConfigReader.parse(root).text().earlyStopping());
        text(root).put("early_stopping", "sometimes");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReader.parse(root));
        assertTrue(e.getMessage().contains("text_config.early_stopping"), e.getMessage());
        assertTrue(e.getMessage().contains("sometimes"), e.getMessage());
    }

    @Test
    void minimumLengthsBecomeTheMinimumOfNewTokens() throws IOException {
        ObjectNode root = tiny();
        assertEquals(0, GenerationOptions.fromConfig(ConfigReader.parse(root).text(), 20).minNewTokens());
        text(root).put("min_length", 5); // counts the decoder start token
        assertEquals(4, GenerationOptions.fromConfig(ConfigReader.parse(root).text(), 20).minNewTokens());
        text(root).put("min_new_tokens", 2); // set, it replaces min_length (_prepare_generated_length)
        assertEquals(2, GenerationOptions.fromConfig(ConfigReader.parse(root).text(), 20).minNewTokens());
        text(root).put("min_new_tokens", 0);
        assertEquals(0, GenerationOptions.fromConfig(ConfigReader.parse(root).text(), 20).minNewTokens());
        text(root).put("min_length", -1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReader.parse(root));
        assertTrue(e.getMessage().contains("min_length"), e.getMessage());
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = ';', value = {"repetition_penalty; 1.5", "num_beam_groups; 3",
            "encoder_no_repeat_ngram_size; 2", "bad_words_ids; [[5]]", "suppress_tokens; [7, 8]",
            "renormalize_logits; true", "exponential_decay_length_penalty; [5, 1.5]", "num_return_sequences; 3",
            "penalty_alpha; 0.6"})
    void unimplementedGenerationSettingsAreRefusedWhenSet(String field, String value) throws IOException {
        ObjectNode root = tiny();
        text(root).set(field, JSON.readTree(value));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReader.parse(root));
        assertTrue(e.getMessage().contains("text_config." + field), e.getMessage());
        assertTrue(e.getMessage().contains("not supported"), e.getMessage());
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = ';', value = {"repetition_penalty; 1.0", "num_beam_groups; 1", "bad_words_ids; null",
            "suppress_tokens; []", "renormalize_logits; false", "do_sample; true", "temperature; 0.7",
            "num_return_sequences; 1", "penalty_alpha; 0", "penalty_alpha; null"})
    void defaultsAndSamplingSettingsLoad(String field, String value) throws IOException {
        ObjectNode root = tiny();
        text(root).set(field, JSON.readTree(value));
        assertEquals(3, ConfigReader.parse(root).text().numBeams());
    }

    @Test
    void bartsAttributeAliasesWinOverTheirTargets() throws IOException {
        ObjectNode root = tiny();
        TextConfig plain = ConfigReader.parse(root).text();
        text(root).put("hidden_size", plain.dModel());
        text(root).put("num_attention_heads", plain.encoderAttentionHeads());
        text(root).put("d_model", 2 * plain.dModel());
        text(root).put("encoder_attention_heads", 2 * plain.encoderAttentionHeads());
        assertEquals(plain, ConfigReader.parse(root).text());
        text(root).remove(List.of("d_model", "encoder_attention_heads"));
        assertEquals(plain, ConfigReader.parse(root).text(), "not Florence2LanguageConfig's defaults");
    }

    @Test
    void normalizeBeforeIsIgnoredAsTheReferenceIgnoresIt() throws IOException {
        ObjectNode root = tiny();
        text(root).put("normalize_before", true);
        assertTrue(ConfigReader.parse(root).text().normalizeBefore());
    }

    @Test
    void theWriterKeepsEarlyStoppingsSpelling() throws IOException {
        ObjectNode root = tiny();
        text(root).put("early_stopping", "never");
        Florence2Config config = ConfigReader.parse(root);
        ObjectNode written = (ObjectNode) JSON.readTree(
                JSON.writeValueAsString(ConfigWriter.toJson(config, DType.F32)));
        assertTrue(written.get("text_config").get("early_stopping").isTextual());
        assertEquals("never", written.get("text_config").get("early_stopping").asText());
        assertEquals(EarlyStopping.NEVER, ConfigReader.parse(written).text().earlyStopping());
    }
}
