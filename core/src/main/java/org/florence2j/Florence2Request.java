package org.florence2j;

import java.nio.file.Path;
import org.florence2j.task.TaskPrompts;

/**
 * One image and what to do with it: a {@link Task} (with its text), or a prompt of the caller's own
 * ({@link #ofPrompt}), such as a fine-tuned model's {@code <DocVQA>What is the total?}.
 *
 * @param image the image
 * @param task  the Florence-2 task; {@code null} makes {@code text} a whole prompt, read as {@link #ofPrompt} reads
 *              it (so that a prompt naming a task becomes that task and its text, and {@code task} stays
 *              {@code null} only for a prompt sent as it is)
 * @param text  the task's text input (a phrase, or {@code <loc_N>} region tokens), or {@code null} for tasks
 *              that take none; with no task, the whole prompt
 */
public record Florence2Request(ImageSource image, Task task, String text) {
    /**
     * Checks the request and reads a prompt given as {@code text} without a task.
     *
     * @throws IllegalArgumentException when the image, or both the task and the text, are missing
     * @throws InvalidInputException    when a prompt's task token without input is not the whole prompt
     */
    public Florence2Request {
        if (image == null) {
            throw new IllegalArgumentException("Florence2Request: an image is required");
        }
        if (task == null) {
            if (text == null) {
                throw new IllegalArgumentException("Florence2Request: a task or a prompt is required");
            }
            TaskPrompts.Parsed parsed = TaskPrompts.parse(text);
            task = parsed.task();
            text = parsed.text();
        }
    }

    /** A request for a task that takes no text. */
    public static Florence2Request of(Path image, Task task) {
        return new Florence2Request(ImageSource.of(image), task, null);
    }

    /** A request for a task that takes text. */
    public static Florence2Request of(Path image, Task task, String text) {
        return new Florence2Request(ImageSource.of(image), task, text);
    }

    /** {@link #ofPrompt(ImageSource, String)} for an image file. */
    public static Florence2Request ofPrompt(Path image, String prompt) {
        return ofPrompt(ImageSource.of(image), prompt);
    }

    /**
     * A request from a prompt as the reference's processor takes it ({@code processor(text=prompt, images=...)}):
     * {@code "<OD>"} is the task {@link Task#OD}, {@code "<CAPTION_TO_PHRASE_GROUNDING>a dog"} that task with the text
     * {@code "a dog"}, and a prompt that holds no task token is sent to the tokenizer as it is, its answer parsed as
     * pure text (a {@link Caption}) under the prompt itself as the result's key.
     *
     * @throws InvalidInputException when a task token without input is not the whole prompt (the reference asserts)
     */
    public static Florence2Request ofPrompt(ImageSource image, String prompt) {
        if (prompt == null) {
            throw new IllegalArgumentException("Florence2Request.ofPrompt: the prompt is required");
        }
        return new Florence2Request(image, null, prompt);
    }
}
