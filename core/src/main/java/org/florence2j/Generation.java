package org.florence2j;

import java.util.Map;

/**
 * What the model generated for one image, with everything needed to reproduce or inspect it. Arrays are shared,
 * not copied: treat them as read-only.
 *
 * @param image            the image's name
 * @param imageWidth       the original image width in pixels (coordinates are in this space)
 * @param imageHeight      the original image height in pixels
 * @param task             the task, or {@code null} for a prompt of the caller's own
 *                         ({@link Florence2Request#ofPrompt})
 * @param prompt           the text the task expanded to (or the caller's prompt), as tokenized
 * @param inputIds         the prompt's token ids ({@code <s> … </s>})
 * @param generatedIds     the full sequence as the reference's {@code generate()} returns it: the decoder start
 *                         token (2) first, then the generated tokens
 * @param text             the generated ids decoded with special tokens kept (the reference's
 *                         {@code batch_decode(skip_special_tokens=False)})
 * @param transitionScores one log-probability per generated token after the start token (beam search: the
 *                         reference's {@code compute_transition_scores}; greedy: the chosen token's log-softmax)
 * @param sequenceScore    the sum of the log-probabilities divided by {@code generatedLength^length_penalty}: the
 *                         beam's final score (the reference's {@code sequences_scores}), and for greedy search the
 *                         same formula over the chosen tokens
 * @param referenceResult  the reference's {@code post_process_generation(text, task, image_size)}: the task token
 *                         mapped to its answer, same keys and structure; for a prompt of the caller's own, the
 *                         prompt mapped to the text (the reference's answer to a task it does not know);
 *                         unmodifiable, as is every map and list in it
 * @param timingsMs        wall time per stage in milliseconds ({@code preprocess}, {@code generate},
 *                         {@code postprocess})
 */
public record Generation(
        String image,
        int imageWidth,
        int imageHeight,
        Task task,
        String prompt,
        int[] inputIds,
        int[] generatedIds,
        String text,
        float[] transitionScores,
        float sequenceScore,
        Map<String, Object> referenceResult,
        Map<String, Double> timingsMs) {}
