package org.florence2j.task;

import java.util.List;

import org.florence2j.InvalidInputException;
import org.florence2j.Task;

/**
 * Turns a task's generated text into its answer: the reference's {@code Florence2Processor.post_process_generation}
 * and {@code Florence2PostProcesser} ({@code processing_florence2.py}), quirks included, coordinates de-quantized
 * to the original image size in float32.
 *
 * <p>Two paths, as in the reference: from the decoded text ({@code text=}), or from the generated tokens and their
 * transition scores ({@code sequence=}, {@code transition_beam_score=}), where the text is the tokens' pieces
 * joined and object-detection boxes get a score each. A location bin beyond a signed 64-bit int is an
 * {@link InvalidInputException}: the reference's {@code torch.tensor} raises for it on the box paths, while its
 * polygon and OCR paths pass through {@code np.array} first, which turns a bin from 2^63 to 2^64 - 1 into a float64
 * or uint64 array and de-quantizes it (no model emits a bin outside 0 to 999; README lists this difference). A box
 * whose tokens the score path cannot find (the reference divides by zero) scores NaN.
 */
public final class PostProcessor {

    private PostProcessor() {
    }

    /**
     * The answer to {@code task} from the decoded text.
     *
     * @param text   the generated text decoded with special tokens kept ({@code <s>car<loc_52>…</s>})
     * @param width  the original image width in pixels
     * @param height the original image height in pixels
     */
    public static TaskResult process(Task task, String text, int width, int height) {
        return parse(task.parseType(), text, null, width, height);
    }

    /** The answer to {@code task} from the generated tokens and their scores (boxes of detection tasks scored). */
    public static TaskResult process(Task task, ScoredTokens tokens, int width, int height) {
        return parse(task.parseType(), tokens.text(), tokens, width, height);
    }

    /**
     * The answer for a parse type, as the reference's {@code post_process_generation} shapes it.
     *
     * @param text   the generated text, special tokens kept
     * @param scored the tokens and scores behind {@code text}, or null for the text path
     * @throws InvalidInputException when the image size is not positive or a location bin exceeds 64 bits
     */
    public static TaskResult parse(ParseType type, String text, ScoredTokens scored, int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new InvalidInputException("image size " + width + "x" + height + " must be positive");
        }
        return switch (type) {
            case PURE_TEXT -> new TextResult(text.replace("<s>", "").replace("</s>", ""));
            case OCR -> OcrParser.parse(text, width, height);
            case DESCRIPTION_WITH_BBOXES -> BoxParser.parseDescriptionWithBoxes(text, scored, false, width, height);
            case BBOXES -> BoxParser.parseDescriptionWithBoxes(text, null, true, width, height);
            case PHRASE_GROUNDING -> BoxParser.parsePhraseGrounding(text, width, height);
            case POLYGONS -> PolygonParser.parse(text, true, width, height);
            case DESCRIPTION_WITH_POLYGONS -> PolygonParser.parse(text, false, width, height);
            case DESCRIPTION_WITH_BBOXES_OR_POLYGONS -> boxesOrPolygons(text, width, height);
        };
    }

    /** Polygons when the text holds {@code <poly>}, otherwise boxes; never scored, as in the reference. */
    private static BoxesOrPolygonsResult boxesOrPolygons(String text, int width, int height) {
        if (text.contains("<poly>")) {
            PolygonsResult polygons = PolygonParser.parse(text, false, width, height);
            return new BoxesOrPolygonsResult(List.of(), List.of(), polygons.polygons(), polygons.labels());
        }
        BoxesResult boxes = BoxParser.parseDescriptionWithBoxes(text, null, false, width, height);
        return new BoxesOrPolygonsResult(boxes.boxes(), boxes.labels(), List.of(), List.of());
    }
}
