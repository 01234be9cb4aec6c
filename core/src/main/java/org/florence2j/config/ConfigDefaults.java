package org.florence2j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * The values the reference config classes give the fields a {@code config.json} leaves out, so that such a config
 * loads as the reference loads it: for the remote code, {@code Florence2VisionConfig.__init__} and
 * {@code Florence2LanguageConfig.__init__} ({@code configuration_florence2.py} of {@code microsoft/Florence-2-*});
 * for transformers' native Florence-2, its {@code Florence2VisionConfig} and, for the {@code bart} text config,
 * {@code BartConfig} (transformers 4.57). {@code save_pretrained} writes every field, so only hand-written configs
 * miss any. Each set is in its own format's key names.
 */
final class ConfigDefaults {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final ObjectNode REMOTE_VISION = parse("""
            {"patch_size": [7, 3, 3, 3], "patch_stride": [4, 2, 2, 2], "patch_padding": [3, 1, 1, 1],
             "patch_prenorm": [false, true, true, true], "dim_embed": [256, 512, 1024, 2048],
             "num_heads": [8, 16, 32, 64], "num_groups": [8, 16, 32, 64], "depths": [1, 1, 9, 1],
             "window_size": 12, "projection_dim": 1024,
             "image_feature_source": ["spatial_avg_pool", "temporal_avg_pool"]}""");

    private static final ObjectNode REMOTE_TEXT = parse("""
            {"vocab_size": 51289, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
             "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
             "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
             "scale_embedding": false, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
             "decoder_start_token_id": 2, "forced_eos_token_id": 2}""");

    private static final ObjectNode NATIVE_VISION = parse("""
            {"depths": [1, 1, 9, 1], "patch_size": [7, 3, 3, 3], "patch_stride": [4, 2, 2, 2],
             "patch_padding": [3, 1, 1, 1], "patch_prenorm": [false, true, true, true],
             "embed_dim": [128, 256, 512, 1024], "num_heads": [4, 8, 16, 32], "num_groups": [4, 8, 16, 32],
             "window_size": 12, "projection_dim": 1024, "max_temporal_embeddings": 100,
             "max_position_embeddings": 50, "mlp_ratio": 4.0, "qkv_bias": true, "activation_function": "gelu",
             "in_channels": 3}""");

    /**
     * BartConfig's architecture defaults. Its token ids are apart ({@link #NATIVE_TEXT_TOKEN_IDS}): native
     * {@code generate()} reads them from the generation config, which takes them from the text config only when it
     * is made from the model config ({@link NativeConfigReader}).
     */
    private static final ObjectNode NATIVE_TEXT = parse("""
            {"vocab_size": 50265, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
             "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
             "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
             "scale_embedding": false}""");

    /** The token ids {@code BartConfig.__init__} defaults to (transformers 4.57). */
    private static final ObjectNode NATIVE_TEXT_TOKEN_IDS = parse("""
            {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
             "forced_eos_token_id": 2}""");

    private ConfigDefaults() {}

    /** A copy of a remote {@code vision_config} with the fields it lacks set to their defaults. */
    static ObjectNode remoteVision(JsonNode visionConfig) {
        return withDefaults(visionConfig, REMOTE_VISION);
    }

    /**
     * A copy of a remote {@code text_config} with the fields it lacks set to their defaults, and BART's legacy
     * {@code force_bos_token_to_be_generated} turned into {@code forced_bos_token_id = bos_token_id} where no forced
     * BOS is set, as {@code Florence2LanguageConfig} does.
     */
    static ObjectNode remoteText(JsonNode textConfig) {
        return withLegacyForcedBos(withDefaults(textConfig, REMOTE_TEXT));
    }

    /** A copy of a native {@code vision_config} with the fields it lacks set to their defaults. */
    static ObjectNode nativeVision(JsonNode visionConfig) {
        return withDefaults(visionConfig, NATIVE_VISION);
    }

    /** A copy of a native {@code text_config} with the architecture fields it lacks set to their defaults. */
    static ObjectNode nativeText(JsonNode textConfig) {
        return withDefaults(textConfig, NATIVE_TEXT);
    }

    /**
     * A copy of a native {@code text_config} as {@code BartConfig} holds its generation fields: the token ids it
     * lacks set to BartConfig's defaults, and BART's legacy {@code force_bos_token_to_be_generated} turned into
     * {@code forced_bos_token_id = bos_token_id} where no forced BOS is set. (The global generation defaults a
     * {@code PretrainedConfig} also holds equal {@code GenerationConfig}'s, so they need no entry.)
     */
    static ObjectNode nativeTextGeneration(JsonNode textConfig) {
        return withLegacyForcedBos(withDefaults(textConfig, NATIVE_TEXT_TOKEN_IDS));
    }

    /** BART's legacy {@code force_bos_token_to_be_generated}: {@code forced_bos_token_id = bos_token_id} if unset. */
    private static ObjectNode withLegacyForcedBos(ObjectNode text) {
        if (!text.hasNonNull("forced_bos_token_id") && text.path("force_bos_token_to_be_generated").asBoolean()) {
            text.set("forced_bos_token_id", text.get("bos_token_id"));
        }
        return text;
    }

    private static ObjectNode withDefaults(JsonNode given, ObjectNode defaults) {
        ObjectNode filled = (ObjectNode) given.deepCopy();
        for (Iterator<Map.Entry<String, JsonNode>> fields = defaults.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (!filled.has(field.getKey())) {
                filled.set(field.getKey(), field.getValue().deepCopy());
            }
        }
        return filled;
    }

    /** The JSON object {@code json}, for constant tables: a syntax error is a bug, thrown at class initialisation. */
    static ObjectNode parse(String json) {
        try {
            return (ObjectNode) JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
