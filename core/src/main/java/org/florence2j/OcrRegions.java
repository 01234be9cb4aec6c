package org.florence2j;

import java.util.List;
import org.florence2j.task.Polygon;

/**
 * Text lines with their quadrilaterals in image pixels ({@code <OCR_WITH_REGION>}).
 *
 * @param quadBoxes  one 4-point polygon (x1, y1, …, x4, y4) per line
 * @param texts      one text per line
 * @param generation the generation behind it
 */
public record OcrRegions(List<Polygon> quadBoxes, List<String> texts, Generation generation)
        implements Florence2Result {}
