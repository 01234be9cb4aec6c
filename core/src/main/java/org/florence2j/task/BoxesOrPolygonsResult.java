package org.florence2j.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Open-vocabulary detection: labelled boxes, or labelled polygons when the model answered with {@code <poly>}
 * (the reference parses one kind or the other, never both).
 */
public record BoxesOrPolygonsResult(List<Box> boxes, List<String> boxLabels, List<List<Polygon>> polygons,
                                    List<String> polygonLabels) implements TaskResult {

    public BoxesOrPolygonsResult {
        boxes = List.copyOf(boxes);
        boxLabels = List.copyOf(boxLabels);
        polygons = polygons.stream().map(List::copyOf).toList();
        polygonLabels = List.copyOf(polygonLabels);
        if (boxLabels.size() != boxes.size() || polygonLabels.size() != polygons.size()) {
            throw new IllegalArgumentException("BoxesOrPolygonsResult: " + boxes.size() + " boxes, "
                    + boxLabels.size() + " box labels, " + polygons.size() + " polygons, " + polygonLabels.size()
                    + " polygon labels");
        }
    }

    /** {@code {'bboxes', 'bboxes_labels', 'polygons', 'polygons_labels'}}, as the reference. */
    @Override
    public Object referenceAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("bboxes", boxes.stream().map(Box::toReferenceJson).toList());
        answer.put("bboxes_labels", boxLabels);
        answer.put("polygons", PolygonsResult.toReferenceJson(polygons));
        answer.put("polygons_labels", polygonLabels);
        return Collections.unmodifiableMap(answer);
    }
}
