package org.florence2j.config;

/**
 * A Florence-2 {@code config.json}: the vision tower, the language model and the ids that tie them.
 *
 * @param vision the DaViT tower
 * @param text   the BART encoder-decoder and its generation settings
 */
public record Florence2Config(VisionConfig vision, TextConfig text) {
    public Florence2Config {
        if (vision == null || text == null) {
            throw new IllegalArgumentException("config.json needs both vision_config and text_config");
        }
        if (vision.projectionDim() != text.dModel()) {
            throw new IllegalArgumentException("vision_config.projection_dim " + vision.projectionDim()
                    + " must equal text_config.d_model " + text.dModel()
                    + ": the projected image features and the prompt's embeddings are concatenated");
        }
    }

    /**
     * Width of the projected image features ({@code vision_config.projection_dim}, which equals
     * {@code text_config.d_model}). The reference never reads the top-level {@code projection_dim}.
     */
    public int projectionDim() {
        return vision.projectionDim();
    }
}
