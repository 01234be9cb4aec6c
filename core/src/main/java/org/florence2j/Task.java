package org.florence2j;

import java.util.Arrays;
import java.util.stream.Collectors;

import org.florence2j.task.ParseType;

/**
 * The Florence-2 tasks: the task token the model was trained on, whether the task takes text after the token, the
 * prompt the processor sends instead of the token, and how the generated text is parsed.
 *
 * <p>Mirrors the tables of the reference's {@code Florence2Processor} ({@code processing_florence2.py}):
 * {@code task_prompts_without_inputs} (a fixed sentence), {@code task_prompts_with_input} (a template whose
 * {@code {input}} is the text) and {@code tasks_answer_post_processing_type}.
 */
public enum Task {
    /** A short caption. */
    CAPTION("<CAPTION>", "What does the image describe?", ParseType.PURE_TEXT),
    /** A caption of a few sentences. */
    DETAILED_CAPTION("<DETAILED_CAPTION>", "Describe in detail what is shown in the image.", ParseType.PURE_TEXT),
    /** A caption of a paragraph. */
    MORE_DETAILED_CAPTION("<MORE_DETAILED_CAPTION>", "Describe with a paragraph what is shown in the image.",
            ParseType.PURE_TEXT),
    /** Object detection: boxes with category names. */
    OD("<OD>", "Locate the objects with category name in the image.", ParseType.DESCRIPTION_WITH_BBOXES),
    /** Boxes with a description each. */
    DENSE_REGION_CAPTION("<DENSE_REGION_CAPTION>", "Locate the objects in the image, with their descriptions.",
            ParseType.DESCRIPTION_WITH_BBOXES),
    /** Boxes of likely objects, without labels. */
    REGION_PROPOSAL("<REGION_PROPOSAL>", "Locate the region proposals in the image.", ParseType.BBOXES),
    /** Boxes of the phrases of a caption given as text. */
    CAPTION_TO_PHRASE_GROUNDING("<CAPTION_TO_PHRASE_GROUNDING>", "Locate the phrases in the caption: {input}",
            ParseType.PHRASE_GROUNDING),
    /** Polygons of what the text describes. */
    REFERRING_EXPRESSION_SEGMENTATION("<REFERRING_EXPRESSION_SEGMENTATION>", "Locate {input} in the image with mask",
            ParseType.POLYGONS),
    /** Polygons of the object in a region given as four location tokens. */
    REGION_TO_SEGMENTATION("<REGION_TO_SEGMENTATION>", "What is the polygon mask of region {input}",
            ParseType.POLYGONS),
    /** Boxes or polygons of what the text names. */
    OPEN_VOCABULARY_DETECTION("<OPEN_VOCABULARY_DETECTION>", "Locate {input} in the image.",
            ParseType.DESCRIPTION_WITH_BBOXES_OR_POLYGONS),
    /** The category of a region given as four location tokens. */
    REGION_TO_CATEGORY("<REGION_TO_CATEGORY>", "What is the region {input}?", ParseType.PURE_TEXT),
    /** A description of a region given as four location tokens. */
    REGION_TO_DESCRIPTION("<REGION_TO_DESCRIPTION>", "What does the region {input} describe?", ParseType.PURE_TEXT),
    /** The text in a region given as four location tokens. */
    REGION_TO_OCR("<REGION_TO_OCR>", "What text is in the region {input}?", ParseType.PURE_TEXT),
    /** The text in the image. */
    OCR("<OCR>", "What is the text in the image?", ParseType.PURE_TEXT),
    /** The text in the image, line by line, with a quadrilateral each. */
    OCR_WITH_REGION("<OCR_WITH_REGION>", "What is the text in the image, with regions?", ParseType.OCR);

    /** Where a template takes the task's text, as in the reference's {@code str.format(input=...)}. */
    public static final String INPUT_PLACEHOLDER = "{input}";

    private final String token;
    private final String prompt;
    private final ParseType parseType;

    Task(String token, String prompt, ParseType parseType) {
        this.token = token;
        this.prompt = prompt;
        this.parseType = parseType;
    }

    /** The task token, e.g. {@code "<OD>"}: the key of the post-processed result. */
    public String token() {
        return token;
    }

    /** Whether the task needs text after its token (a caption, a phrase, or a region's location tokens). */
    public boolean takesText() {
        return prompt.contains(INPUT_PLACEHOLDER);
    }

    /** Whether the task's text is a region: four location tokens made from a pixel box. */
    public boolean takesRegion() {
        return name().startsWith("REGION_TO_");
    }

    /**
     * The prompt sentence sent instead of the token ({@link #takesText()} false), or the template whose
     * {@value #INPUT_PLACEHOLDER} is replaced by the task's text.
     */
    public String prompt() {
        return prompt;
    }

    /** How the generated text of this task is parsed. */
    public ParseType parseType() {
        return parseType;
    }

    /**
     * The task with this token.
     *
     * @param token a task token such as {@code "<OD>"}
     * @throws InvalidInputException naming the unknown token and listing the valid ones
     */
    public static Task fromToken(String token) {
        for (Task task : values()) {
            if (task.token.equals(token)) {
                return task;
            }
        }
        String valid = Arrays.stream(values()).map(Task::token).collect(Collectors.joining(", "));
        throw new InvalidInputException("unknown task '" + token + "'; valid tasks: " + valid);
    }
}
