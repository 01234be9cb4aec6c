package org.florence2j;

import java.util.List;
import org.florence2j.task.Box;
import org.florence2j.task.Polygon;

/**
 * Labelled boxes in image pixels ({@code <OD>}, {@code <DENSE_REGION_CAPTION>}, {@code <REGION_PROPOSAL>},
 * {@code <CAPTION_TO_PHRASE_GROUNDING>}, {@code <OPEN_VOCABULARY_DETECTION>}).
 *
 * @param boxes         boxes as (x_min, y_min, x_max, y_max)
 * @param labels        one label per box (empty strings for region proposals)
 * @param scores        one score per box: exp of the mean transition log-probability of its location tokens, as
 *                      the reference's score path computes it; empty when the task has no score path
 * @param polygons      open-vocabulary detection only: polygons of objects given as outlines
 * @param polygonLabels one label per polygon group
 * @param generation    the generation behind it
 */
public record Detections(
        List<Box> boxes,
        List<String> labels,
        List<Double> scores,
        List<List<Polygon>> polygons,
        List<String> polygonLabels,
        Generation generation)
        implements Florence2Result {}
