package org.florence2j;

import java.nio.file.Path;
import java.util.Optional;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.config.TextConfig;
import org.florence2j.config.VisionConfig;
import org.florence2j.config.VisionConfig.Implementation;
import org.florence2j.image.PreprocessorConfig;
import org.florence2j.model.Florence2Model;
import org.florence2j.model.vision.ImageProjector;

/**
 * Which image sizes (as the processor outputs them) a loaded model can run, decided before its vision tower runs.
 * The remote code's {@code Florence2ForConditionalGeneration._encode_image} views the last DaViT stage's tokens as
 * a square of side {@code int(tokens ** 0.5)} and asserts that they fill it, where the native code takes the map as
 * it is ({@link ImageProjector#positionLayout}); the position embedding has {@code max_pos_embeddings} (native:
 * {@code max_position_embeddings}) rows and columns; BART's
 * encoder has {@code max_position_embeddings} learned positions for the image tokens and a prompt's at least two
 * ({@code <s>}, {@code </s>}); and the session's vision scratch is one tensor of at most 2³¹ - 1 F32 values.
 */
final class ImageSizeLimits {
    /** The fewest prompt tokens: {@code <s>} and {@code </s>}. */
    private static final int MIN_PROMPT_TOKENS = 2;

    private final Florence2Model model;

    ImageSizeLimits(Florence2Model model) {
        this.model = model;
    }

    /**
     * Refuses a processor whose images the model cannot run: its fixed output size, or else, for a shortest-edge
     * resize, the square image at that edge, which gives the smallest map it can make (and for the remote code the
     * only square one).
     *
     * @param file the processor's {@code preprocessor_config.json}, named in the error
     * @throws CheckpointException saying what the model cannot take
     */
    void checkProcessor(PreprocessorConfig processor, Path file) {
        Optional<PreprocessorConfig.Size> fixed = processor.fixedOutputSize();
        if (fixed.isEmpty() && !processor.doResize()) {
            return; // each image keeps its own size, checked per request
        }
        int edge = processor.size().shortestEdge();
        PreprocessorConfig.Size size = fixed.orElseGet(() -> PreprocessorConfig.Size.fixed(edge, edge));
        String problem = problem(size.height(), size.width());
        if (problem != null) {
            String which = fixed.isPresent() ? "images come" : "a square image comes";
            throw new CheckpointException(file, null, -1, which + " out " + size.width() + "x" + size.height()
                    + ", which " + problem);
        }
    }

    /**
     * Refuses pixel values of {@code height × width} (an image whose size the processor keeps or scales).
     *
     * @throws InvalidInputException saying what the model cannot take
     */
    void checkImage(int height, int width) {
        String problem = problem(height, width);
        if (problem != null) {
            throw new InvalidInputException("an image resized to " + width + "x" + height
                    + " (by the model's preprocessor_config.json) " + problem);
        }
    }

    /** Why {@code height × width} pixel values cannot go through the model, or {@code null} when they can. */
    private String problem(int height, int width) {
        VisionConfig vision = model.config().vision();
        TextConfig text = model.config().text();
        long rows = vision.featureMapSide(height);
        long columns = vision.featureMapSide(width);
        String map = "a " + columns + "x" + rows + " feature map";
        if (rows < 1 || columns < 1) {
            return "is too small for the patch embeddings (" + map + ")";
        }
        long mapTokens = rows * columns;
        ImageProjector.PositionLayout layout = model.projector().positionLayout(rows, columns);
        if (layout.rows() * layout.columns() != mapTokens) {
            return "gives " + map + " of " + mapTokens + " tokens, not a square number: the remote code's image"
                    + " position embedding takes a square map";
        }
        if (Math.max(layout.rows(), layout.columns()) > vision.maxPosEmbeddings()) {
            return "gives " + map + ", wider than the image position embedding's " + (vision.implementation()
                    == Implementation.NATIVE ? "max_position_embeddings " : "max_pos_embeddings ")
                    + vision.maxPosEmbeddings() + " (config.json)";
        }
        long imageTokens = model.projector().tokenCount(Math.toIntExact(mapTokens));
        if (imageTokens + MIN_PROMPT_TOKENS > text.maxPositionEmbeddings()) {
            return "gives " + imageTokens + " image tokens, which with a prompt's " + MIN_PROMPT_TOKENS
                    + " or more exceed config.json's text_config.max_position_embeddings "
                    + text.maxPositionEmbeddings();
        }
        long scratch = model.davit().scratchElements(model.backend(), 1, height, width);
        if (scratch > Integer.MAX_VALUE) {
            return "needs a vision scratch of " + scratch + " F32 values with config.json's"
                    + " vision_config.window_size " + vision.windowSize() + "; one tensor holds at most "
                    + Integer.MAX_VALUE;
        }
        return null;
    }
}
