package org.florence2j.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * Generation settings the reference's {@code generate()} would take from {@code text_config} but florence2j does
 * not implement: a config that sets one to anything but its default is refused, naming it, rather than decoded
 * differently from the reference without a word. Sampling settings are not among them: Florence-2 is run with
 * {@code do_sample=False}, which overrides the config.
 */
final class UnsupportedGenerationSettings {
    /** Each setting with its transformers 4.41 default ({@code null}: absent). */
    private static final Map<String, Object> DEFAULTS = Map.ofEntries(
            Map.entry("repetition_penalty", 1.0),
            Map.entry("encoder_repetition_penalty", 1.0),
            Map.entry("encoder_no_repeat_ngram_size", 0),
            Map.entry("num_beam_groups", 1),
            Map.entry("diversity_penalty", 0.0),
            Map.entry("renormalize_logits", false),
            Map.entry("bad_words_ids", "null"),
            Map.entry("force_words_ids", "null"),
            Map.entry("suppress_tokens", "null"),
            Map.entry("begin_suppress_tokens", "null"),
            Map.entry("forced_decoder_ids", "null"),
            Map.entry("sequence_bias", "null"),
            Map.entry("exponential_decay_length_penalty", "null"));

    private UnsupportedGenerationSettings() {}

    /** @throws IllegalArgumentException naming the first setting of {@code textConfig} that is not its default */
    static void check(JsonNode textConfig) {
        for (Map.Entry<String, Object> setting : DEFAULTS.entrySet()) {
            JsonNode value = textConfig.get(setting.getKey());
            if (value != null && !isDefault(value, setting.getValue())) {
                throw new IllegalArgumentException("text_config." + setting.getKey() + " " + value
                        + " is not supported (florence2j implements num_beams, no_repeat_ngram_size, length_penalty,"
                        + " early_stopping, min_length, min_new_tokens and the forced BOS/EOS tokens); remove it"
                        + " from the model's config to generate without it");
            }
        }
    }

    private static boolean isDefault(JsonNode value, Object defaultValue) {
        if (value.isNull() || value.isArray() && value.isEmpty()) {
            return true; // an empty token list constrains nothing
        }
        return switch (defaultValue) {
            case Double d -> value.isNumber() && value.asDouble() == d;
            case Integer i -> value.isNumber() && value.asDouble() == i;
            case Boolean b -> value.isBoolean() && value.asBoolean() == b;
            default -> false; // the setting's default is absent, and it is present
        };
    }
}
