package org.florence2j.config;

/**
 * A Florence-2 {@code config.json}: the vision tower, the language model and the ids that tie them.
 *
 * @param vision        the DaViT tower
 * @param text          the BART encoder-decoder and its generation settings
 * @param projectionDim width of the projected image features; equals {@code text.dModel()}
 */
public record Florence2Config(VisionConfig vision, TextConfig text, int projectionDim) {
    public Florence2Config {
        if (vision == null || text == null) {
            throw new IllegalArgumentException("config.json needs both vision_config and text_config");
        }
        if (projectionDim != text.dModel()) {
            throw new IllegalArgumentException("projection_dim " + projectionDim
                    + " must equal text_config.d_model " + text.dModel());
        }
    }
}
