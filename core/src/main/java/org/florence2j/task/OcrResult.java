package org.florence2j.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Text lines with their quadrilaterals (OCR with region): 4-point polygons, one label each. */
public record OcrResult(List<Polygon> quadBoxes, List<String> labels) implements TaskResult {

    public OcrResult {
        quadBoxes = List.copyOf(quadBoxes);
        labels = List.copyOf(labels);
        if (labels.size() != quadBoxes.size()) {
            throw new IllegalArgumentException(
                    "OcrResult: " + quadBoxes.size() + " quad boxes, " + labels.size() + " labels");
        }
    }

    /** {@code {'quad_boxes': [[x1, y1, ..., x4, y4], ...], 'labels': [...]}}, as the reference. */
    @Override
    public Object referenceAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("quad_boxes", quadBoxes.stream().map(Polygon::toReferenceJson).toList());
        answer.put("labels", labels);
        return Collections.unmodifiableMap(answer);
    }
}
