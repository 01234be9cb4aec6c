package org.florence2j.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Polygons with labels (referring expression and region segmentation): each instance is a list of polygons
 * (a mask made of several parts) with one label.
 */
public record PolygonsResult(List<List<Polygon>> polygons, List<String> labels) implements TaskResult {

    public PolygonsResult {
        polygons = polygons.stream().map(List::copyOf).toList();
        labels = List.copyOf(labels);
        if (labels.size() != polygons.size()) {
            throw new IllegalArgumentException(
                    "PolygonsResult: " + polygons.size() + " instances, " + labels.size() + " labels");
        }
    }

    /** {@code {'polygons': [[[x, y, ...], ...], ...], 'labels': [...]}}, as the reference. */
    @Override
    public Object referenceAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("polygons", toReferenceJson(polygons));
        answer.put("labels", labels);
        return Collections.unmodifiableMap(answer);
    }

    static List<List<List<Double>>> toReferenceJson(List<List<Polygon>> instances) {
        return instances.stream().map(parts -> parts.stream().map(Polygon::toReferenceJson).toList()).toList();
    }
}
