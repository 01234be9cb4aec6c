package org.florence2j.task;

import java.util.Collections;
import java.util.Map;

import org.florence2j.Task;

/**
 * A task's parsed answer. {@link #toReferenceJson(String)} gives the exact structure of the reference's
 * {@code Florence2Processor.post_process_generation} ({@code processing_florence2.py}): a map from the task token
 * to the answer, with the same keys in the same order and coordinates as float32 values widened to double.
 */
public sealed interface TaskResult permits TextResult, BoxesResult, PolygonsResult, OcrResult, BoxesOrPolygonsResult {

    /** The answer alone, as the reference structures it: a string, or an unmodifiable map of unmodifiable lists. */
    Object referenceAnswer();

    /** {@code {taskToken: answer}}, the reference's return value; unmodifiable, as is every map and list in it. */
    default Map<String, Object> toReferenceJson(String taskToken) {
        return Collections.singletonMap(taskToken, referenceAnswer());
    }

    /** {@code {task.token(): answer}}, the reference's return value. */
    default Map<String, Object> toReferenceJson(Task task) {
        return toReferenceJson(task.token());
    }
}
