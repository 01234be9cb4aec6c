package org.florence2j.task;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses OCR with regions: text lines, each followed by the eight location tokens of a quadrilateral. Mirrors the
 * reference's {@code parse_ocr_from_text_and_spans} ({@code Florence2PostProcesser}, {@code processing_florence2.py})
 * with its default area threshold of 0 (no line is dropped): labels are kept as generated, not stripped, and only
 * {@code <s>} is removed first, so a line can carry a {@code </s>} or the tokens of an incomplete quadrilateral.
 */
final class OcrParser {
    private static final String LOC = "<loc_(" + PyText.DIGITS + ")>";
    private static final Pattern LINE = PyText.compile("(.+?)" + LOC.repeat(8));

    private OcrParser() {
    }

    /** Text lines with their quadrilaterals, from the generated text with special tokens kept. */
    static OcrResult parse(String text, int width, int height) {
        List<Polygon> quadBoxes = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        Matcher line = LINE.matcher(text.replace("<s>", ""));
        while (line.find()) {
            List<Float> coordinates = new ArrayList<>(8);
            for (int i = 0; i < 8; i++) {
                long bin = PyText.parseBin(line.group(2 + i));
                coordinates.add(LocationTokens.dequantize(bin, i % 2 == 0 ? width : height));
            }
            quadBoxes.add(new Polygon(coordinates));
            labels.add(line.group(1));
        }
        return new OcrResult(quadBoxes, labels);
    }
}
