package org.florence2j.task;

import java.util.ArrayList;
import java.util.List;

/**
 * Parses OCR with regions: text lines, each followed by the eight location tokens of a quadrilateral. Mirrors the
 * reference's {@code parse_ocr_from_text_and_spans} ({@code Florence2PostProcesser}, {@code processing_florence2.py})
 * with its default area threshold of 0 (no line is dropped): labels are kept as generated, not stripped, and only
 * {@code <s>} is removed first, so a line can carry a {@code </s>} or the tokens of an incomplete quadrilateral.
 */
final class OcrParser {
    private OcrParser() {
    }

    /** Text lines with their quadrilaterals, from the generated text with special tokens kept. */
    static OcrResult parse(String text, int width, int height) {
        List<Polygon> quadBoxes = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        String cleaned = text.replace("<s>", "");
        for (TokenRuns.Span line : TokenRuns.findTextWithQuads(cleaned)) {
            List<Long> bins = TokenRuns.bins(cleaned, line.end(), TokenRuns.quadEnd(cleaned, line.end()));
            quadBoxes.add(Polygon.dequantize(bins, width, height));
            labels.add(line.of(cleaned));
        }
        return new OcrResult(quadBoxes, labels);
    }
}
