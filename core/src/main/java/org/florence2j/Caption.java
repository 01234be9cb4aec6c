package org.florence2j;

/**
 * A text answer ({@code <CAPTION>}, {@code <OCR>}, {@code <REGION_TO_CATEGORY>}, …).
 *
 * @param text       the answer, as the reference's post-processing leaves it
 * @param generation the generation behind it
 */
public record Caption(String text, Generation generation) implements Florence2Result {}
