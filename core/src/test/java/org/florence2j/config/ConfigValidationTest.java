package org.florence2j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.florence2j.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A {@code config.json} whose values cannot describe a model is refused by {@link ConfigReader} with a
 * {@link CheckpointException} naming the field, not accepted and left to fail later as an arithmetic, index or
 * shape error inside the model.
 */
class ConfigValidationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path TINY_CONFIG = Path.of("src/test/resources/golden/tiny/model/config.json");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}.{1} = {2}")
    @CsvSource(delimiter = ';', value = {
            "vision_config; num_heads; [0, 2, 3, 4]; num_heads",
            "vision_config; num_heads; [-1, 2, 3, 4]; num_heads",
            "vision_config; num_groups; [0, 2, 4, 4]; num_groups",
            "vision_config; dim_embed; [-16, 32, 48, 64]; dim_embed",
            "vision_config; depths; [-1, 1, 2, 1]; depths",
            "vision_config; depths; [null, 1, 2, 1]; depths",
            "vision_config; patch_size; [0, 3, 3, 3]; patch_size",
            "vision_config; patch_stride; [0, 2, 2, 2]; patch_stride",
            "vision_config; patch_padding; [-1, 1, 1, 1]; patch_padding",
            "text_config; encoder_ffn_dim; 0; encoder_ffn_dim",
            "text_config; decoder_ffn_dim; -4; decoder_ffn_dim",
            "text_config; max_position_embeddings; -5; max_position_embeddings",
            "text_config; eos_token_id; 999999; eos_token_id",
            "text_config; decoder_start_token_id; -3; decoder_start_token_id",
            "text_config; forced_bos_token_id; 999999; forced_bos_token_id",
            "text_config; forced_eos_token_id; -1; forced_eos_token_id",
            "text_config; num_beams; 0; num_beams",
            "text_config; no_repeat_ngram_size; -1; no_repeat_ngram_size",
            "text_config; max_position_embeddings; 2147483647; max_position_embeddings",
            "text_config; max_position_embeddings; 2147483646; max_position_embeddings",
            "vision_config; window_size; 100000; window_size",
            "vision_config; window_size; 216; window_size",
            "vision_config; window_size; 0; window_size",
            "vision_config; dim_embed; [16, 32, 48, 1000000000]; dim_embed",
            "vision_config; image_feature_source; [\"spatial_avg_pool\", \"mean\"]; image_feature_source",
            "vision_config; image_feature_source; []; image_feature_source",
    })
    void impossibleValuesAreRefusedNamingTheField(String section, String field, String value, String named)
            throws IOException {
        CheckpointException e = refusal(section, field, value);
        assertTrue(e.getMessage().contains(named), e.getMessage());
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        assertFalse(e.getMessage().contains("Cannot construct instance"), "Jackson's wrapping leaks: "
                + e.getMessage());
    }

    @ParameterizedTest(name = "{0}.{1} = {2}")
    @CsvSource(delimiter = ';', value = {
            "text_config; decoder_attention_heads; -4; decoder_attention_heads must be positive, got -4; divisible",
            "text_config; encoder_attention_heads; 5; not divisible by encoder_attention_heads 5; positive",
            "text_config; no_repeat_ngram_size; -1; no_repeat_ngram_size must be at least 0, got -1; num_beams",
            "text_config; num_beams; 0; num_beams must be at least 1, got 0; no_repeat_ngram_size",
            "text_config; min_new_tokens; -2; min_new_tokens must be at least 0, got -2; min_length",
    })
    void theMessageReportsOnlyTheBadField(String section, String field, String value, String says, String absent)
            throws IOException {
        CheckpointException e = refusal(section, field, value);
        assertTrue(e.getMessage().contains(says), e.getMessage());
        assertFalse(e.getMessage().contains(absent), e.getMessage());
    }

    /**
     * DaViT indexes depths and patch_* by stage (a shorter list is an IndexError there) and asserts that num_heads
     * and num_groups have exactly one entry per stage of dim_embed.
     */
    @ParameterizedTest(name = "{0}.{1} = {2}")
    @CsvSource(delimiter = ';', value = {
            "vision_config; depths; [1, 1, 2]; vision_config.depths must have an entry for each of the 4 stages of"
                    + " dim_embed, has 3",
            "vision_config; patch_prenorm; [false]; vision_config.patch_prenorm must have an entry for each of the 4"
                    + " stages of dim_embed, has 1",
            "vision_config; num_heads; [1, 2, 3, 4, 4]; vision_config.num_heads must have one entry per stage of"
                    + " dim_embed (4), has 5",
            "vision_config; num_groups; [2, 2, 4]; vision_config.num_groups must have one entry per stage of"
                    + " dim_embed (4), has 3",
    })
    void perStageListsThatDoNotCoverTheStagesAreRefused(String section, String field, String value, String says)
            throws IOException {
        refusalSaying(section, field, value, says);
    }

    /** What Python keeps a float, a string or a big int is not taken for an int: nn.Linear(64.0, …) fails. */
    @ParameterizedTest(name = "{0}.{1} = {2}")
    @CsvSource(delimiter = ';', value = {
            "text_config; d_model; 64.5; text_config.d_model must be an integer, got 64.5",
            "text_config; d_model; 64.0; text_config.d_model must be an integer, got 64.0",
            "text_config; d_model; \"64\"; text_config.d_model must be an integer, got \"64\"",
            "text_config; normalize_before; \"false\"; text_config.normalize_before must be true or false",
            "text_config; length_penalty; \"1.0\"; text_config.length_penalty must be a number",
            "vision_config; dim_embed; [16, 32, 48, 1e12]; vision_config.dim_embed[3] must be an integer",
            "vision_config; dim_embed; [16, 32, 48, 1000000000000]; "
                    + "vision_config.dim_embed[3] must be a 32-bit integer, got 1000000000000",
            "vision_config; depths; 5; vision_config.depths must be a list, got 5",
            "vision_config; image_pos_embed; {\"type\": \"learned_abs_2d\", \"max_pos_embeddings\": 50.5}; "
                    + "vision_config.image_pos_embed.max_pos_embeddings must be an integer, got 50.5",
    })
    void valuesOfTheWrongTypeAreRefusedNamingTheKey(String section, String field, String value, String says)
            throws IOException {
        CheckpointException e = refusalSaying(section, field, value, says);
        assertFalse(e.getMessage().contains("coercion"), "Jackson's wording leaks: " + e.getMessage());
    }

    @Test
    void syntaxErrorSaysWhereWithoutJacksonsSourceNote() throws IOException {
        Path config = Files.writeString(dir.resolve("config.json"), "{\"text_config\": {\n  \"d_model\": 64,,\n}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> ConfigReader.read(config));
        assertTrue(e.getMessage().contains("config.json: cannot be read as JSON: ")
                && e.getMessage().contains("(line 2, column 17)"), e.getMessage());
        assertFalse(e.getMessage().contains("Source") || e.getMessage().contains("\n"), e.getMessage());
    }

    /** The remote code builds only these embeddings, and raises NotImplementedError for another type. */
    @ParameterizedTest(name = "{0}.type {1}")
    @CsvSource(delimiter = ';', value = {
            "image_pos_embed; \"sine_2d\"; 'learned_abs_2d', the only one Florence-2's code implements, got \"sine_2d\"",
            "image_pos_embed; null; got null",
            "visual_temporal_embedding; \"LEARNED\"; 'COSINE', the only one Florence-2's code implements, got"
                    + " \"LEARNED\"",
            "visual_temporal_embedding; 1; got 1"})
    void anEmbeddingOfAnotherTypeIsRefused(String embedding, String type, String says) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(TINY_CONFIG.toFile());
        ((ObjectNode) root.get("vision_config").get(embedding)).set("type", JSON.readTree(type));
        Path config = Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(root));
        CheckpointException e = assertThrows(CheckpointException.class, () -> ConfigReader.read(config));
        assertTrue(e.getMessage().contains("vision_config." + embedding + ".type must be "), e.getMessage());
        assertTrue(e.getMessage().endsWith(says), e.getMessage());
        ((ObjectNode) root.get("vision_config").get(embedding)).remove("type");
        Files.writeString(config, JSON.writeValueAsString(root));
        e = assertThrows(CheckpointException.class, () -> ConfigReader.read(config));
        assertTrue(e.getMessage().endsWith("got none"), e.getMessage());
    }

    @Test
    void aWindowLargerThanEveryFeatureMapIsAccepted() throws IOException {
        assertEquals(40, ConfigReader.read(withValue("vision_config", "window_size", "40")).vision().windowSize());
        assertEquals(VisionConfig.MAX_WINDOW_SIZE,
                ConfigReader.read(withValue("vision_config", "window_size", "215")).vision().windowSize());
    }

    /** The error reading the tiny model's config with {@code section.field} set to the JSON {@code value}. */
    private CheckpointException refusal(String section, String field, String value) throws IOException {
        Path config = withValue(section, field, value);
        return assertThrows(CheckpointException.class, () -> ConfigReader.read(config));
    }

    /** {@link #refusal}, whose message must say {@code says} right after the file name. */
    private CheckpointException refusalSaying(String section, String field, String value, String says)
            throws IOException {
        CheckpointException e = refusal(section, field, value);
        assertTrue(e.getMessage().contains("config.json: " + says), e.getMessage());
        return e;
    }

    /** The tiny model's config with {@code section.field} set to the JSON {@code value}, written to the temp dir. */
    private Path withValue(String section, String field, String value) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(TINY_CONFIG.toFile());
        ((ObjectNode) root.get(section)).set(field, JSON.readTree(value));
        Path config = dir.resolve("config.json");
        JSON.writeValue(config.toFile(), root);
        return config;
    }
}
