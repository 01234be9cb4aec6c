package org.florence2j;

import java.nio.file.Path;
import org.florence2j.task.TaskPrompts;

/**
 * One image and what to do with it: a {@link Task} (with its text), or a prompt of the caller's own
 * ({@link #ofPrompt}), such as a fine-tuned model's {@code <DocVQA>What is the total?}.
 *
 * @param image the image
 * @param task  the Florence-2 task, or {@code null} when {@code text} is a prompt sent as it is
 * @param text  the task's text input (a phrase, or {@code <loc_N>} region tokens), or {@code null} for tasks
 *              that take none; with no task, the whole prompt
 */
public record Florence2Request(ImageSource image, Task task, String text) {
    public Florence2Request {
        if (image == null) {
            throw new IllegalArgumentException("Florence2Request: an image is required");
        }
        if (task == null && text == null) {
            throw new IllegalArgumentException("Florence2Request: a task or a prompt is required");
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
        TaskPrompts.Parsed parsed = TaskPrompts.parse(prompt);
        return new Florence2Request(image, parsed.task(), parsed.text());
    }
}
