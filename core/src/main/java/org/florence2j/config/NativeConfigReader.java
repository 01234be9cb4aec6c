package org.florence2j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.JsonFiles;

/**
 * Reads the {@code config.json} and {@code generation_config.json} of transformers' native Florence-2
 * ({@code Florence2Config} in transformers/models/florence2, as the {@code florence-community/Florence-2-*}
 * repositories ship it) into the same {@link Florence2Config} records as the remote-code format.
 *
 * <p>What differs from the remote format: {@code vision_config.model_type} is {@code florence_vision}, and the
 * widths and table sizes are {@code embed_dim}, {@code max_position_embeddings} and {@code max_temporal_embeddings}
 * (a converted config also carries the remote names, which the native model never reads, so neither is this);
 * {@code projection_dim} lives only in {@code vision_config}; {@code text_config} is a plain BART config. Fields
 * left out take the native config classes' defaults ({@link ConfigDefaults}).
 *
 * <p>The generation settings are those of the {@code GenerationConfig} that
 * {@code Florence2ForConditionalGeneration.from_pretrained(folder).generate(...)} runs with (transformers 4.57):
 * <ul>
 *   <li>{@code generation_config.json} when the folder has a readable one: each field it leaves out takes
 *       {@code GenerationConfig}'s default, not {@code text_config}'s value ({@code GenerationConfig.from_pretrained}
 *       builds it from the file alone, and {@code generate()} uses it as it is);</li>
 *   <li>else, or when that file says {@code "_from_model_config": true} and the top level of {@code config.json}
 *       sets a generation parameter other than its default ({@code _prepare_generation_config}'s legacy path),
 *       {@code GenerationConfig.from_model_config(config)}: a top-level value, else {@code text_config}'s (with
 *       {@code BartConfig}'s token ids where it has none), else {@code GenerationConfig}'s default;</li>
 *   <li>then, as {@code _prepare_special_tokens} does, a missing {@code decoder_start_token_id} is
 *       {@code bos_token_id} and a missing {@code pad_token_id} is {@code eos_token_id}.</li>
 * </ul>
 */
public final class NativeConfigReader {
    /** The {@code vision_config.model_type} of the native format (the remote one says {@code davit}). */
    public static final String NATIVE_VISION_MODEL_TYPE = "florence_vision";

    private static final Logger LOG = Logger.getLogger(NativeConfigReader.class.getName());

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The {@code GenerationConfig} fields florence2j reads (into {@link TextConfig}) or refuses
     * ({@link UnsupportedGenerationSettings}), with {@code GenerationConfig.__init__}'s defaults (transformers 4.57).
     */
    private static final ObjectNode GENERATION_DEFAULTS = ConfigDefaults.parse("""
            {"bos_token_id": null, "eos_token_id": null, "pad_token_id": null, "decoder_start_token_id": null,
             "forced_bos_token_id": null, "forced_eos_token_id": null, "num_beams": 1, "no_repeat_ngram_size": 0,
             "early_stopping": false, "length_penalty": 1.0, "min_length": 0, "min_new_tokens": null,
             "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "encoder_no_repeat_ngram_size": 0,
             "num_beam_groups": 1, "diversity_penalty": 0.0, "renormalize_logits": false, "num_return_sequences": 1,
             "penalty_alpha": null, "bad_words_ids": null, "force_words_ids": null, "suppress_tokens": null,
             "begin_suppress_tokens": null, "sequence_bias": null, "exponential_decay_length_penalty": null}""");

    private static final List<String> GENERATION_FIELDS = names(GENERATION_DEFAULTS);

    /**
     * {@code PretrainedConfig._get_global_generation_defaults()} (transformers 4.57): the parameters whose top-level
     * value in {@code config.json}, when not this default, makes {@code _get_non_default_generation_parameters}
     * non-empty. ({@code Florence2Config()}, which it compares with, holds these defaults.)
     */
    private static final ObjectNode GLOBAL_GENERATION_DEFAULTS = ConfigDefaults.parse("""
            {"max_length": 20, "min_length": 0, "do_sample": false, "early_stopping": false, "num_beams": 1,
             "temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0, "repetition_penalty": 1.0,
             "length_penalty": 1.0, "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0,
             "bad_words_ids": null, "num_return_sequences": 1, "output_scores": false,
             "return_dict_in_generate": false, "forced_bos_token_id": null, "forced_eos_token_id": null,
             "remove_invalid_values": false, "exponential_decay_length_penalty": null, "suppress_tokens": null,
             "begin_suppress_tokens": null, "num_beam_groups": 1, "diversity_penalty": 0.0}""");

    /**
     * {@code text_config} keys no native generation setting comes from: {@code forced_decoder_ids} is no
     * {@code GenerationConfig} field in 4.57, and PyTorch {@code generate()} never reads it.
     */
    private static final List<String> IGNORED_TEXT_KEYS = List.of("forced_decoder_ids");

    private NativeConfigReader() {}

    /** Whether an already-read {@code config.json} is in the native format. */
    public static boolean isNative(JsonNode config) {
        return NATIVE_VISION_MODEL_TYPE.equals(config.path("vision_config").path("model_type").asText());
    }

    /**
     * Reads {@code configFile} and {@code generationConfigFile} (both in the model folder). A generation config file
     * that is absent, not a regular file, unreadable or not JSON counts as absent, as native {@code from_pretrained}
     * catches the {@code OSError} {@code GenerationConfig.from_pretrained} raises for each and goes on with the
     * generation config made from the model config; the last three are logged.
     *
     * @throws CheckpointException naming the file at fault when one is unreadable, not a JSON object, or
     *                             inconsistent
     */
    public static Florence2Config read(Path configFile, Path generationConfigFile) {
        JsonNode config = JsonFiles.readObject(configFile);
        JsonNode generation = readGenerationConfig(generationConfigFile);
        try {
            return parse(config, generation);
        } catch (GenerationFileException e) {
            throw new CheckpointException(generationConfigFile, null, -1, e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configFile, null, -1, e.getMessage(), e);
        }
    }

    /** A fault of the settings taken from {@code generation_config.json}, which {@link #read} names as that file's. */
    private static final class GenerationFileException extends IllegalArgumentException {
        GenerationFileException(String message) {
            super(message);
        }

        GenerationFileException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The JSON object in {@code file}, or null where native {@code from_pretrained} would do without it. */
    private static JsonNode readGenerationConfig(Path file) {
        if (Files.notExists(file, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        try {
            return JsonFiles.readObject(file);
        } catch (CheckpointException e) {
            // Valid JSON that is no object makes the reference fail (config_dict["_commit_hash"] = ...): refused.
            // An empty file is no JSON to Python (json.loads raises, and so from_pretrained goes on without it),
            // where Jackson reads it as no value.
            if (Files.isRegularFile(file) && !(e.getCause() instanceof IOException) && !isBlank(file)) {
                throw e;
            }
            LOG.log(Level.WARNING, "{0}; generating with the settings of config.json instead, as transformers"
                    + " does", e.getMessage());
            return null;
        }
    }

    /** Whether {@code file} holds only whitespace; false when it cannot be read. */
    private static boolean isBlank(Path file) {
        try {
            return Files.readString(file).isBlank();
        } catch (IOException e) {
            return false;
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

    /**
     * Parses an already-read native {@code config.json} and {@code generation_config.json}, {@code generation} null
     * when the folder has none.
     */
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
        text.remove(GENERATION_FIELDS);
        text.remove(IGNORED_TEXT_KEYS);
        boolean fromModelConfig = takesSettingsFromModelConfig(config, generation);
        ObjectNode settings = generationSettings(config, textNode, generation, fromModelConfig);
        settings.properties().forEach(field -> {
            if (!field.getValue().isNull()) {
                text.set(field.getKey(), field.getValue());
            }
        });
        try {
            return ConfigRecords.bind(vision, text);
        } catch (IllegalArgumentException e) {
            throw fromModelConfig ? e : blamingTheGenerationFile(e);
        }
    }

    /**
     * {@code e} as a {@link GenerationFileException} when it names a generation setting ("text_config.eos_token_id
     * …"), which then came from {@code generation_config.json}, with the key as the file has it; else {@code e}.
     */
    private static IllegalArgumentException blamingTheGenerationFile(IllegalArgumentException e) {
        String message = String.valueOf(e.getMessage());
        for (String field : GENERATION_FIELDS) {
            String named = "text_config." + field;
            if (message.startsWith(named + " ") || message.startsWith(named + "[")) {
                return new GenerationFileException(message.substring("text_config.".length()), e);
            }
        }
        return e;
    }

    /**
     * Whether {@code generate()} takes its settings from {@code config.json} rather than {@code generation}, the
     * folder's {@code generation_config.json} (null when it has none).
     */
    private static boolean takesSettingsFromModelConfig(JsonNode config, JsonNode generation) {
        return generation == null
                || (isTruthy(generation.get("_from_model_config")) && hasNonDefaultGenerationParameters(config));
    }

    /**
     * The settings {@code generate()} runs with, one per {@link #GENERATION_DEFAULTS} field (null where unset),
     * after {@code _prepare_special_tokens}' fallbacks.
     *
     * @param fromModelConfig whether they come from {@code config.json} ({@link #takesSettingsFromModelConfig})
     * @throws IllegalArgumentException when no decoder start token or no EOS token results
     */
    private static ObjectNode generationSettings(JsonNode config, JsonNode textConfig, JsonNode generation,
            boolean fromModelConfig) {
        ObjectNode settings = fromModelConfig ? fromModelConfig(config, textConfig) : fromFile(generation);
        if (!fromModelConfig) {
            try {
                UnsupportedGenerationSettings.check(settings, "generation_config.json");
            } catch (IllegalArgumentException e) {
                throw new GenerationFileException(e.getMessage());
            }
        }
        String source = generation == null ? "config.json (the folder has no usable generation_config.json)"
                : fromModelConfig ? "config.json (generation_config.json says _from_model_config and config.json"
                + " sets a generation parameter at its top level)" : "generation_config.json";
        // _prepare_special_tokens: "for BC we also try to get `decoder_start_token_id` or `bos_token_id`".
        if (settings.get("decoder_start_token_id").isNull()) {
            settings.set("decoder_start_token_id", settings.get("bos_token_id"));
        }
        JsonNode eos = settings.get("eos_token_id");
        if (settings.get("pad_token_id").isNull() && !eos.isNull()) {
            settings.set("pad_token_id", eos.isArray() ? eos.path(0) : eos);
        }
        if (settings.get("decoder_start_token_id").isNull()) {
            throw missing(fromModelConfig, "native Florence-2 config: the generation settings, from " + source
                    + ", have neither decoder_start_token_id nor bos_token_id, without which native generate()"
                    + " refuses to run");
        }
        if (eos.isNull()) {
            throw missing(fromModelConfig, "native Florence-2 config: the generation settings, from " + source
                    + ", have no eos_token_id: native generate() would then never stop before max_new_tokens,"
                    + " which florence2j does not implement");
        }
        return settings;
    }

    /** A setting the generation settings lack, blamed on the file they came from. */
    private static IllegalArgumentException missing(boolean fromModelConfig, String message) {
        return fromModelConfig ? new IllegalArgumentException(message) : new GenerationFileException(message);
    }

    /** {@code GenerationConfig.from_pretrained}: the file's values, {@code GenerationConfig}'s defaults elsewhere. */
    private static ObjectNode fromFile(JsonNode generation) {
        ObjectNode settings = GENERATION_DEFAULTS.deepCopy();
        for (String field : GENERATION_FIELDS) {
            if (generation.hasNonNull(field)) {
                settings.set(field, generation.get(field));
            }
        }
        return settings;
    }

    /**
     * {@code GenerationConfig.from_model_config(config)}: each top-level value that is not None, then, for each field
     * still at {@code GenerationConfig}'s default, the value of {@code get_text_config(decoder=True).to_dict()} (the
     * {@code BartConfig}, which holds its own token-id defaults where {@code text_config} has none).
     */
    private static ObjectNode fromModelConfig(JsonNode config, JsonNode textConfig) {
        ObjectNode text = ConfigDefaults.nativeTextGeneration(textConfig);
        ObjectNode settings = GENERATION_DEFAULTS.deepCopy();
        for (String field : GENERATION_FIELDS) {
            if (config.hasNonNull(field)) {
                settings.set(field, config.get(field));
            }
            if (pythonEquals(settings.get(field), GENERATION_DEFAULTS.get(field)) && text.has(field)) {
                settings.set(field, text.get(field));
            }
        }
        return settings;
    }

    /**
     * {@code len(self.config._get_non_default_generation_parameters()) > 0} for the top-level
     * {@code Florence2Config}: it looks at the top level only, not at {@code text_config}.
     */
    private static boolean hasNonDefaultGenerationParameters(JsonNode config) {
        for (String field : names(GLOBAL_GENERATION_DEFAULTS)) {
            JsonNode value = config.get(field);
            if (value != null && !value.isNull() && !pythonEquals(value, GLOBAL_GENERATION_DEFAULTS.get(field))) {
                return true;
            }
        }
        return false;
    }

    /** Python's {@code ==} on JSON values: {@code 1 == 1.0 == True}. */
    private static boolean pythonEquals(JsonNode a, JsonNode b) {
        if ((a.isNumber() || a.isBoolean()) && (b.isNumber() || b.isBoolean())) {
            return number(a) == number(b);
        }
        return a.equals(b);
    }

    private static double number(JsonNode value) {
        return value.isBoolean() ? (value.asBoolean() ? 1 : 0) : value.asDouble();
    }

    /** Python's truth value of a JSON value ({@code _from_model_config} is tested with a bare {@code and}). */
    private static boolean isTruthy(JsonNode value) {
        if (value == null || value.isNull()) {
            return false;
        }
        if (value.isBoolean() || value.isNumber()) {
            return number(value) != 0;
        }
        return value.isContainerNode() ? !value.isEmpty() : !value.asText().isEmpty();
    }

    private static List<String> names(ObjectNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return List.copyOf(names);
    }
}
