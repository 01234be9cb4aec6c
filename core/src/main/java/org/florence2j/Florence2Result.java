package org.florence2j;

/**
 * A task's answer for one image, typed by what the task produces, with the raw generation behind it.
 *
 * <ul>
 *   <li>{@link Caption}: captions, OCR text, region-to-category/description/OCR;</li>
 *   <li>{@link Detections}: object detection, dense region captions, region proposals, phrase grounding,
 *       open-vocabulary detection (which may also return polygons);</li>
 *   <li>{@link Polygons}: referring-expression and region segmentation;</li>
 *   <li>{@link OcrRegions}: OCR with regions.</li>
 * </ul>
 */
public sealed interface Florence2Result permits Caption, Detections, Polygons, OcrRegions {
    /** The generated ids, their text, the reference-shaped result and timings. */
    Generation generation();
}
