package org.florence2j.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * When beam search ends for an image: HuggingFace's {@code early_stopping} ({@code true}, {@code false} or
 * {@code "never"}), with the meaning transformers 4.41's {@code BeamHypotheses.is_done} gives it. Every mode waits
 * until the image holds {@code num_beams} finished hypotheses; search also ends at {@code max_length}.
 */
public enum EarlyStopping {
    /** {@code true}: as soon as the image holds {@code num_beams} finished hypotheses. */
    TRUE(true),
    /**
     * {@code false}: once the best open beam's score, normalised by the current length, cannot beat the worst
     * finished hypothesis (HuggingFace's heuristic).
     */
    FALSE(false),
    /**
     * {@code "never"}: once no open beam could beat the worst finished hypothesis at any length; with a positive
     * length penalty its score is normalised by the longest possible length ({@code max_length}).
     */
    NEVER("never");

    private final Object configValue;

    EarlyStopping(Object configValue) {
        this.configValue = configValue;
    }

    /**
     * The mode a {@code config.json} value names: {@code true}, {@code false} or {@code "never"}.
     *
     * @throws IllegalArgumentException for any other value
     */
    @JsonCreator
    public static EarlyStopping fromConfig(Object value) {
        for (EarlyStopping mode : values()) {
            if (mode.configValue.equals(value)) {
                return mode;
            }
        }
        throw new IllegalArgumentException("text_config.early_stopping must be true, false or \"never\", got " + value);
    }

    /** The value {@code config.json} holds for this mode: a Boolean, or the String {@code "never"}. */
    @JsonValue
    public Object configValue() {
        return configValue;
    }

    @Override
    public String toString() {
        return configValue.toString();
    }
}
