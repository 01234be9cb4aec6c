package org.florence2j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.JsonFiles;

/**
 * Reads the {@code config.json} of transformers' native Florence-2 ({@code Florence2Config} in
 * transformers/models/florence2, as the {@code florence-community/Florence-2-*} repositories ship it) into the same
 * {@link Florence2Config} records as the remote-code format.
 *
 * <p>What differs from the remote format: {@code vision_config.model_type} is {@code florence_vision}, and the
 * widths and table sizes are {@code embed_dim}, {@code max_position_embeddings} and {@code max_temporal_embeddings}
 * (a converted config also carries the remote names, which the native model never reads, so neither is this);
 * {@code projection_dim} lives only in {@code vision_config}; {@code text_config} is a plain BART config whose token
 * ids and generation settings moved to {@code generation_config.json}, which native {@code generate()} reads, so they
 * are taken from there. Fields left out take the native config classes' defaults ({@link ConfigDefaults}).
 */
public final class NativeConfigReader {
    /** The {@code vision_config.model_type} of the native format (the remote one says {@code davit}). */
    public static final String NATIVE_VISION_MODEL_TYPE = "florence_vision";

    /** Generation fields that native {@code generate()} takes from {@code generation_config.json}. */
    private static final List<String> GENERATION_FIELDS = List.of("bos_token_id", "eos_token_id", "pad_token_id",
            "decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id", "num_beams",
            "no_repeat_ngram_size", "early_stopping", "length_penalty", "min_length", "min_new_tokens",
            "repetition_penalty", "encoder_repetition_penalty", "encoder_no_repeat_ngram_size", "num_beam_groups",
            "diversity_penalty", "renormalize_logits", "bad_words_ids", "force_words_ids", "suppress_tokens",
            "begin_suppress_tokens", "forced_decoder_ids", "sequence_bias", "exponential_decay_length_penalty");

    /** The token ids the text model cannot run without. */
    private static final List<String> REQUIRED_IDS = List.of("bos_token_id", "eos_token_id", "pad_token_id",
            "decoder_start_token_id");

    private static final ObjectMapper JSON = new ObjectMapper();

    private NativeConfigReader() {}

    /** Whether an already-read {@code config.json} is in the native format. */
    public static boolean isNative(JsonNode config) {
        return NATIVE_VISION_MODEL_TYPE.equals(config.path("vision_config").path("model_type").asText());
    }

    /**
     * Reads {@code configFile} and {@code generationConfigFile} (both in the model folder).
     *
     * @throws CheckpointException naming the file at fault when one is unreadable, not JSON, or inconsistent
     */
    public static Florence2Config read(Path configFile, Path generationConfigFile) {
        JsonNode config = JsonFiles.readObject(configFile);
        if (!Files.isRegularFile(generationConfigFile)) {
            throw new CheckpointException(generationConfigFile, null, -1, "is missing: the native Florence-2"
                    + " format keeps the token ids (" + String.join(", ", REQUIRED_IDS) + ") there");
        }
        JsonNode generation = JsonFiles.readObject(generationConfigFile);
        try {
            return parse(config, generation);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configFile, null, -1, e.getMessage(), e);
        }
    }

    /**
     * Refuses a vision setting the native model honours (Florence2VisionMLP's {@code ACT2FN[activation_function]},
     * Florence2VisionConvEmbed's {@code in_channels}) at a value this engine does not implement, rather than running
     * another model than the config describes.
     */
    private static void requireOnly(JsonNode vision, String key, Object supported, String what) {
        JsonNode value = vision.get(key);
        if (!value.equals(JSON.valueToTree(supported))) {
            throw new IllegalArgumentException("vision_config." + key + " " + value + " is not supported: florence2j"
                    + " implements only " + JSON.valueToTree(supported) + " (" + what + ")");
        }
    }

    /** Parses an already-read native {@code config.json} and {@code generation_config.json}. */
    public static Florence2Config parse(JsonNode config, JsonNode generation) {
        JsonNode visionNode = config.path("vision_config");
        JsonNode textNode = config.path("text_config");
        if (!visionNode.isObject() || !textNode.isObject()) {
            throw new IllegalArgumentException("config.json needs vision_config and text_config objects");
        }
        ObjectNode vision = ConfigDefaults.nativeVision(visionNode);
        // The native model reads only embed_dim, max_position_embeddings and max_temporal_embeddings: the remote
        // names a converted config also carries (dim_embed, max_pos_embeddings, image_pos_embed, ...) are leftover
        // kwargs, and where a live key is absent its default applies, not a leftover.
        vision.set("dim_embed", vision.get("embed_dim"));
        vision.put("maxPosEmbeddings", ConfigRecords.firstInt(vision, "vision_config", "max_position_embeddings"));
        vision.put("maxTemporalEmbeddings", ConfigRecords.firstInt(vision, "vision_config",
                "max_temporal_embeddings"));
        // Florence2MultiModalProjector always joins the spatial mean token and the tokens: it has no
        // image_feature_source, so one left in the config from the remote format changes nothing.
        vision.putArray("image_feature_source").add("spatial_avg_pool").add("temporal_avg_pool");
        requireOnly(vision, "activation_function", "gelu", "the exact GELU");
        requireOnly(vision, "in_channels", 3, "RGB images");
        vision.put("implementation", VisionConfig.Implementation.NATIVE.name());
        ObjectNode text = ConfigDefaults.nativeText(textNode);
        for (String field : GENERATION_FIELDS) {
            if (generation.hasNonNull(field)) {
                text.set(field, generation.get(field));
            }
        }
        for (String field : REQUIRED_IDS) {
            if (!text.hasNonNull(field)) {
                throw new IllegalArgumentException("native Florence-2 config: " + field
                        + " is in neither generation_config.json nor text_config");
            }
        }
        return ConfigRecords.bind(vision, text);
    }
}
