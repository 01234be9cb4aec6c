package org.florence2j.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * Generation settings the reference's {@code generate()} would take from {@code text_config} but florence2j does
 * not implement: a config that sets one to anything but its default is refused, naming it, rather than decoded
 * differently from the reference without a word. Sampling settings are not among them: Florence-2 is run with
 * {@code do_sample=False}, which overrides the config. {@code penalty_alpha} is: with one beam it turns greedy search
 * into contrastive search, and any call may ask for one beam ({@code RunOptions.withNumBeams}), so it is refused
 * whatever the config's beams. So is {@code num_return_sequences}, which adds rows to the reference's output and so
 * moves every image's after the first.
 */
final class UnsupportedGenerationSettings {
    /** Settings with a value by default, and that value (transformers 4.41's). */
    private static final Map<String, Object> DEFAULTS = Map.of(
            "repetition_penalty", 1.0,
            "encoder_repetition_penalty", 1.0,
            "encoder_no_repeat_ngram_size", 0,
            "num_beam_groups", 1,
            "diversity_penalty", 0.0,
            "renormalize_logits", false,
            "num_return_sequences", 1,
            "penalty_alpha", 0.0);

    /** Settings that are absent ({@code None}) by default; an empty token list constrains nothing either. */
    private static final List<String> ABSENT_BY_DEFAULT = List.of("bad_words_ids", "force_words_ids",
            "suppress_tokens", "begin_suppress_tokens", "forced_decoder_ids", "sequence_bias",
            "exponential_decay_length_penalty");

    private UnsupportedGenerationSettings() {}

    /** @throws IllegalArgumentException naming the first setting of {@code textConfig} that is not its default */
    static void check(JsonNode textConfig) {
        check(textConfig, "text_config");
    }

    /**
     * @param section what {@code settings} is called in the message ({@code text_config}, or
     *                {@code generation_config.json} for a native folder's)
     * @throws IllegalArgumentException naming the first setting of {@code settings} that is not its default
     */
    static void check(JsonNode settings, String section) {
        DEFAULTS.forEach((key, defaultValue) -> {
            JsonNode value = settings.get(key);
            if (value != null && !value.isNull() && !equalsDefault(value, defaultValue)) {
                throw unsupported(section, key, value);
            }
        });
        for (String key : ABSENT_BY_DEFAULT) {
            JsonNode value = settings.get(key);
            if (value != null && !value.isNull() && !(value.isArray() && value.isEmpty())) {
                throw unsupported(section, key, value);
            }
        }
    }

    private static boolean equalsDefault(JsonNode value, Object defaultValue) {
        return defaultValue instanceof Boolean flag ? value.isBoolean() && value.asBoolean() == flag
                : value.isNumber() && value.asDouble() == ((Number) defaultValue).doubleValue();
    }

    private static IllegalArgumentException unsupported(String section, String key, JsonNode value) {
        return new IllegalArgumentException(section + "." + key + " " + value
                + " is not supported (florence2j implements num_beams, no_repeat_ngram_size, length_penalty,"
                + " early_stopping, min_length, min_new_tokens and the forced BOS/EOS tokens); remove it"
                + " from " + section + " to generate without it");
    }
}
