package org.florence2j.config;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collection;

/**
 * Binds prepared {@code vision_config} / {@code text_config} trees to the config records, for both config formats
 * (remote code and transformers-native). A record's own validation message reaches the user as it is, without
 * Jackson's "Cannot construct instance of …" wrapping; a value of the wrong JSON type is refused naming its key.
 *
 * <p>Binding is as strict as the reference's use of the values: Python keeps {@code 64.0} and {@code "64"} a float
 * and a string, which {@code nn.Linear} and {@code range} refuse, so neither is taken for an int here.
 */
final class ConfigRecords {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .withCoercionConfigDefaults(config -> config.setCoercion(CoercionInputShape.String, CoercionAction.Fail))
            .build();

    private ConfigRecords() {}

    /** @throws IllegalArgumentException naming the field when a value is missing, mistyped or inconsistent */
    static Florence2Config bind(JsonNode vision, JsonNode text) {
        JsonNode aliased = withBartAliases(text);
        UnsupportedGenerationSettings.check(aliased);
        return new Florence2Config(bind(vision, VisionConfig.class, "vision_config"),
                bind(aliased, TextConfig.class, "text_config"));
    }

    /**
     * {@code text} with BART's {@code attribute_map} applied: {@code hidden_size} is {@code d_model} and
     * {@code num_attention_heads} is {@code encoder_attention_heads}. {@code PretrainedConfig.__setattr__} writes an
     * alias given as a keyword to its target after the class has set the target, so the alias wins.
     */
    private static JsonNode withBartAliases(JsonNode text) {
        if (!text.has("hidden_size") && !text.has("num_attention_heads")) {
            return text;
        }
        ObjectNode aliased = (ObjectNode) text.deepCopy();
        if (text.has("hidden_size")) {
            aliased.set("d_model", text.get("hidden_size"));
        }
        if (text.has("num_attention_heads")) {
            aliased.set("encoder_attention_heads", text.get("num_attention_heads"));
        }
        return aliased;
    }

    /**
     * The int at the first of {@code paths} (slash-separated, within {@code node}) that is present, else 0.
     *
     * @param section what {@code node} is called in messages ({@code vision_config})
     * @throws IllegalArgumentException naming the key when the value there is not an int
     */
    static int firstInt(JsonNode node, String section, String... paths) {
        for (String path : paths) {
            JsonNode value = node.at("/" + path);
            if (value.isMissingNode() || value.isNull()) {
                continue;
            }
            if (!value.isIntegralNumber() || !value.canConvertToInt()) {
                throw new IllegalArgumentException(section + "." + path.replace('/', '.') + " must be "
                        + (value.isIntegralNumber() ? "a 32-bit integer" : "an integer") + ", got " + value);
            }
            return value.asInt();
        }
        return 0;
    }

    private static <T> T bind(JsonNode tree, Class<T> type, String section) {
        try {
            return JSON.treeToValue(tree, type);
        } catch (JsonProcessingException e) {
            for (Throwable cause = e; cause != null; cause = cause.getCause()) {
                if (cause instanceof IllegalArgumentException ours) {
                    throw new IllegalArgumentException(ours.getMessage(), e);
                }
            }
            if (e instanceof JsonMappingException mapping && !mapping.getPath().isEmpty()) {
                throw new IllegalArgumentException(mistyped(tree, section, mapping), e);
            }
            throw new IllegalArgumentException(section + ": " + e.getOriginalMessage(), e);
        }
    }

    /** "text_config.d_model must be an integer, got 64.5", from the failure's path into {@code tree}. */
    private static String mistyped(JsonNode tree, String section, JsonMappingException e) {
        StringBuilder key = new StringBuilder(section);
        JsonPointer pointer = JsonPointer.empty();
        for (JsonMappingException.Reference step : e.getPath()) {
            if (step.getFieldName() != null) {
                boolean topLevel = pointer.equals(JsonPointer.empty());
                key.append('.').append(topLevel ? fileKey(tree, step.getFieldName()) : step.getFieldName());
                pointer = pointer.appendProperty(step.getFieldName());
            } else {
                key.append('[').append(step.getIndex()).append(']');
                pointer = pointer.appendIndex(step.getIndex());
            }
        }
        JsonNode value = tree.at(pointer);
        return key + " must be " + expected(e, value) + ", got " + value;
    }

    /**
     * What the config file calls the record field {@code field} of {@code tree}: a native vision config says
     * {@code embed_dim} where the record (and the remote format) says {@code dim_embed}.
     */
    private static String fileKey(JsonNode tree, String field) {
        VisionConfig.Implementation nativeFormat = VisionConfig.Implementation.NATIVE;
        boolean isNative = nativeFormat.name().equals(tree.path("implementation").asText());
        return isNative ? VisionConfig.key(nativeFormat, field) : field;
    }

    private static String expected(JsonMappingException e, JsonNode value) {
        Class<?> target = e instanceof MismatchedInputException mismatch ? mismatch.getTargetType() : null;
        if (target == null) {
            // Jackson names no target when a number overflows the field's type.
            return value.isIntegralNumber() ? "a 32-bit integer" : "of another type";
        }
        if (target == int.class || target == Integer.class) {
            return "an integer";
        }
        if (target == boolean.class || target == Boolean.class) {
            return "true or false";
        }
        if (target == double.class || target == Double.class) {
            return "a number";
        }
        if (Collection.class.isAssignableFrom(target)) {
            return "a list";
        }
        return target == String.class ? "a string" : "a " + target.getSimpleName();
    }
}
