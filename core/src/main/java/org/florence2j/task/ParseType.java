package org.florence2j.task;

/**
 * How a task's generated text is parsed: the parse types of the reference's {@code Florence2PostProcesser}
 * ({@code processing_florence2.py}), named as there.
 */
public enum ParseType {
    /** The text itself, {@code <s>} and {@code </s>} removed. */
    PURE_TEXT("pure_text"),
    /** Text lines, each followed by 8 location tokens: a quadrilateral. */
    OCR("ocr"),
    /** Phrases, each followed by one or more boxes of 4 location tokens; scored when scores are given. */
    DESCRIPTION_WITH_BBOXES("description_with_bboxes"),
    /** Like {@link #DESCRIPTION_WITH_BBOXES}, minus a blacklist of generic phrases, never scored. */
    PHRASE_GROUNDING("phrase_grounding"),
    /** Polygons of location tokens, separated by {@code <sep>} or wrapped in {@code <poly>}; phrase optional. */
    POLYGONS("polygons"),
    /** Like {@link #POLYGONS} but every polygon group needs a phrase. */
    DESCRIPTION_WITH_POLYGONS("description_with_polygons"),
    /** Boxes of 4 location tokens, phrase optional (labels are empty). */
    BBOXES("bboxes"),
    /** Polygons when the text holds {@code <poly>}, otherwise phrases with boxes. */
    DESCRIPTION_WITH_BBOXES_OR_POLYGONS("description_with_bboxes_or_polygons");

    private final String referenceName;

    ParseType(String referenceName) {
        this.referenceName = referenceName;
    }

    /** The reference's name for this parse type, e.g. {@code "description_with_bboxes"}. */
    public String referenceName() {
        return referenceName;
    }
}
