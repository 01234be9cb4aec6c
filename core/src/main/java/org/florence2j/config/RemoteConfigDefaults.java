package org.florence2j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * The values the remote code's config classes ({@code Florence2VisionConfig.__init__},
 * {@code Florence2LanguageConfig.__init__}) give the fields a {@code config.json} leaves out, so that such a config
 * loads as the reference loads it. {@code save_pretrained} writes every field, so only hand-written configs miss
 * any.
 */
final class RemoteConfigDefaults {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final ObjectNode VISION = parse("""
            {"patch_size": [7, 3, 3, 3], "patch_stride": [4, 2, 2, 2], "patch_padding": [3, 1, 1, 1],
             "patch_prenorm": [false, true, true, true], "dim_embed": [256, 512, 1024, 2048],
             "num_heads": [8, 16, 32, 64], "num_groups": [8, 16, 32, 64], "depths": [1, 1, 9, 1],
             "window_size": 12, "projection_dim": 1024,
             "image_feature_source": ["spatial_avg_pool", "temporal_avg_pool"]}""");

    private static final ObjectNode TEXT = parse("""
            {"vocab_size": 51289, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
             "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
             "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
             "scale_embedding": false, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
             "decoder_start_token_id": 2, "forced_eos_token_id": 2}""");

    private RemoteConfigDefaults() {}

    /** A copy of {@code visionConfig} with the fields it lacks set to {@code Florence2VisionConfig}'s defaults. */
    static ObjectNode vision(JsonNode visionConfig) {
        return withDefaults(visionConfig, VISION);
    }

    /**
     * A copy of {@code textConfig} with the fields it lacks set to {@code Florence2LanguageConfig}'s defaults, and
     * BART's legacy {@code force_bos_token_to_be_generated} turned into {@code forced_bos_token_id = bos_token_id}
     * where no forced BOS is set, as that class does.
     */
    static ObjectNode text(JsonNode textConfig) {
        ObjectNode text = withDefaults(textConfig, TEXT);
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

    private static ObjectNode parse(String json) {
        try {
            return (ObjectNode) JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
