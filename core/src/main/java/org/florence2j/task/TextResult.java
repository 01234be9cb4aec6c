package org.florence2j.task;

/** A text answer (captions, OCR, region category/description/OCR): the generated text, {@code <s>}, {@code </s>}
 * removed. */
public record TextResult(String text) implements TaskResult {

    @Override
    public Object referenceAnswer() {
        return text;
    }
}
