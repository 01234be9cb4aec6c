package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.tensor.DType;

/**
 * The language half of Florence-2, the reference's {@code Florence2LanguageForConditionalGeneration}: the BART
 * encoder and the decoder with its head.
 *
 * @param encoder {@code language_model.model.encoder}
 * @param decoder {@code language_model.model.decoder} with {@code shared}, {@code lm_head}, {@code final_logits_bias}
 * @param config  the text configuration they were loaded with
 */
public record BartModel(BartEncoder encoder, BartDecoder decoder, TextConfig config) {
    /** Loads from the {@code language_model} view {@code w}; weights are uploaded into {@code arena}. */
    public static BartModel load(Weights w, TextConfig c, Backend backend, Arena arena) {
        return load(w, c, backend, arena, DType.F32);
    }

    /**
     * {@link #load} with the decoder's per-step weights uploaded for {@code stepWeightType} (see
     * {@link BartDecoder#load(Weights, TextConfig, Backend, Arena, DType)}).
     */
    public static BartModel load(Weights w, TextConfig c, Backend backend, Arena arena, DType stepWeightType) {
        return new BartModel(BartEncoder.load(w.at("model").at("encoder"), c, backend, arena),
                BartDecoder.load(w, c, backend, arena, stepWeightType), c);
    }
}
