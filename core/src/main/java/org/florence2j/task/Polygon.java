package org.florence2j.task;

import java.util.List;

/**
 * A polygon in pixels of the original image, as the reference lists it: {@code [x0, y0, x1, y1, …]}. An OCR
 * quadrilateral is a polygon of 4 points. Coordinates hold the reference's float32 values exactly.
 */
public record Polygon(List<Float> coordinates) {

    public Polygon {
        coordinates = List.copyOf(coordinates);
    }

    /** The number of points (half the coordinates). */
    public int pointCount() {
        return coordinates.size() / 2;
    }

    /** The reference's JSON form: the coordinates widened to double. */
    public List<Double> toReferenceJson() {
        return coordinates.stream().map(Float::doubleValue).toList();
    }
}
