package org.florence2j.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Boxes with labels (object detection, dense region captions, region proposals, phrase grounding), and their
 * scores when the score path was taken.
 *
 * @param boxes  the boxes in image pixels
 * @param labels one label per box (empty strings for region proposals)
 * @param scores one score per box, {@code exp} of the mean transition log-probability of the box's location
 *               tokens; empty when not scored
 */
public record BoxesResult(List<Box> boxes, List<String> labels, List<Double> scores) implements TaskResult {

    public BoxesResult {
        boxes = List.copyOf(boxes);
        labels = List.copyOf(labels);
        scores = List.copyOf(scores);
        if (labels.size() != boxes.size() || (!scores.isEmpty() && scores.size() != boxes.size())) {
            throw new IllegalArgumentException("BoxesResult: " + boxes.size() + " boxes, " + labels.size()
                    + " labels, " + scores.size() + " scores");
        }
    }

    /** {@code {'bboxes': [...], 'labels': [...]}} plus {@code 'scores'} when scored, as the reference. */
    @Override
    public Object referenceAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("bboxes", boxes.stream().map(Box::toReferenceJson).toList());
        answer.put("labels", labels);
        if (!scores.isEmpty()) {
            answer.put("scores", scores);
        }
        return Collections.unmodifiableMap(answer);
    }
}
