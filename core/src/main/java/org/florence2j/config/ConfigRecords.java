package org.florence2j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * Binds prepared {@code vision_config} / {@code text_config} trees to the config records, for both config formats
 * (remote code and transformers-native). A record's own validation message reaches the user as it is, without
 * Jackson's "Cannot construct instance of …" wrapping.
 */
final class ConfigRecords {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigRecords() {}

    /** @throws IllegalArgumentException naming the field when a value is missing, mistyped or inconsistent */
    static Florence2Config bind(JsonNode vision, JsonNode text) {
        UnsupportedGenerationSettings.check(text);
        try {
            VisionConfig visionConfig = JSON.treeToValue(vision, VisionConfig.class);
            TextConfig textConfig = JSON.treeToValue(text, TextConfig.class);
            return new Florence2Config(visionConfig, textConfig);
        } catch (IOException e) {
            for (Throwable cause = e; cause != null; cause = cause.getCause()) {
                if (cause instanceof IllegalArgumentException ours) {
                    throw new IllegalArgumentException(ours.getMessage(), e);
                }
            }
            String message = e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage();
            throw new IllegalArgumentException(message, e);
        }
    }
}
