package org.florence2j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.florence2j.Florence2Result;
import org.florence2j.Generation;

/**
 * {@code run --json}: one result as one line of JSON, shaped after what the reference gives a Python user.
 *
 * <ul>
 *   <li>{@code image}: the image file; {@code image_size}: its {@code [width, height]};</li>
 *   <li>{@code task}: the task token ({@code null} for a {@code --prompt} that names no task); {@code prompt}: the
 *       processor's input, the task token followed by the text, or {@code --prompt} as given;
 *       {@code constructed_prompt}: the sentence the processor turns it into and tokenizes;</li>
 *   <li>{@code input_ids}: the prompt's ids; {@code generated_ids}: the full sequence {@code generate()} returns,
 *       starting with the decoder start token 2; {@code text}: it decoded with special tokens kept
 *       ({@code batch_decode(skip_special_tokens=False)});</li>
 *   <li>{@code result}: {@code post_process_generation(text, task, image_size)}, same keys and structure, floats
 *       written as Python writes them;</li>
 *   <li>{@code timings_ms}: wall time of {@code preprocess}, {@code generate} and {@code postprocess}.</li>
 * </ul>
 */
final class ResultJson {
    private static final ObjectMapper JSON = new ObjectMapper().registerModule(PythonFloats.module());
    private static final List<String> STAGES = List.of("preprocess", "generate", "postprocess");

    private ResultJson() {}

    /** The JSON line for {@code result}; {@code prompt} is the processor's input as given. */
    static String line(Florence2Result result, String prompt) {
        Generation generation = result.generation();
        Map<String, Object> object = new LinkedHashMap<>();
        object.put("image", generation.image());
        object.put("image_size", List.of(generation.imageWidth(), generation.imageHeight()));
        object.put("task", generation.task() == null ? null : generation.task().token());
        object.put("prompt", prompt);
        object.put("constructed_prompt", generation.prompt());
        object.put("input_ids", Arrays.stream(generation.inputIds()).boxed().toList());
        object.put("generated_ids", Arrays.stream(generation.generatedIds()).boxed().toList());
        object.put("text", generation.text());
        object.put("result", generation.referenceResult());
        Map<String, Double> timings = new LinkedHashMap<>();
        for (String stage : STAGES) {
            Double millis = generation.timingsMs().get(stage);
            if (millis != null) {
                timings.put(stage, Math.round(millis * 1000) / 1000.0);
            }
        }
        object.put("timings_ms", timings);
        try {
            return JSON.writeValueAsString(object);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the result of " + generation.image(), e);
        }
    }
}
