package org.florence2j.task;

import java.util.List;

/**
 * An axis-aligned box in pixels of the original image: {@code (xMin, yMin)} top-left, {@code (xMax, yMax)}
 * bottom-right. Parsed boxes hold the reference's float32 values exactly.
 */
public record Box(float xMin, float yMin, float xMax, float yMax) {

    /** The reference's JSON form, {@code [xMin, yMin, xMax, yMax]}: float32 values widened to double. */
    public List<Double> toReferenceJson() {
        return List.of((double) xMin, (double) yMin, (double) xMax, (double) yMax);
    }
}
