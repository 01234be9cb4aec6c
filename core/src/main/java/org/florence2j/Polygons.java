package org.florence2j;

import java.util.List;
import org.florence2j.task.Polygon;

/**
 * Segmentation polygons in image pixels ({@code <REFERRING_EXPRESSION_SEGMENTATION>},
 * {@code <REGION_TO_SEGMENTATION>}).
 *
 * @param polygons   per object, its polygons
 * @param labels     one label per object
 * @param generation the generation behind it
 */
public record Polygons(List<List<Polygon>> polygons, List<String> labels, Generation generation)
        implements Florence2Result {}
