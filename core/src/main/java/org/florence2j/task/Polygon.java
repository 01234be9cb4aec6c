package org.florence2j.task;

import java.util.ArrayList;
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

    /**
     * A polygon from location bins {@code [x0, y0, x1, y1, …]}: x bins along the width, y bins along the height.
     *
     * @param bins an even number of bins
     */
    static Polygon dequantize(List<Long> bins, int width, int height) {
        List<Float> coordinates = new ArrayList<>(bins.size());
        for (int i = 0; i < bins.size(); i++) {
            coordinates.add(LocationTokens.dequantize(bins.get(i), i % 2 == 0 ? width : height));
        }
        return new Polygon(coordinates);
    }

    /** The reference's JSON form: the coordinates widened to double. */
    public List<Double> toReferenceJson() {
        return coordinates.stream().map(Float::doubleValue).toList();
    }
}
