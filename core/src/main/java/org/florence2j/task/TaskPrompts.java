package org.florence2j.task;

import org.florence2j.InvalidInputException;
import org.florence2j.Task;

/**
 * Builds the text prompt sent to the tokenizer for a task, as the reference's
 * {@code Florence2Processor._construct_prompts} does ({@code processing_florence2.py}): a task without input becomes
 * its fixed sentence, a task with input fills its template with the text, and a prompt without a task token is sent
 * as it is ({@link #parse}).
 *
 * <p>Where the reference asserts or silently picks another task, this refuses: text given to a task that takes
 * none, no text for a task that needs it, a region task's text that is not four location tokens (the reference
 * would put any text in the template), and text that itself holds a task token are each an
 * {@link InvalidInputException} saying which.
 */
public final class TaskPrompts {

    private TaskPrompts() {
    }

    /**
     * The prompt for a task and its text.
     *
     * @param task the task
     * @param text the text after the task token (a caption, a phrase, location tokens); null or empty when the task
     *             takes none
     * @throws InvalidInputException when the text does not fit the task
     */
    public static String build(Task task, String text) {
        boolean hasText = text != null && !text.isBlank();
        if (!task.takesText()) {
            if (text != null && !text.isEmpty()) {
                throw new InvalidInputException("task " + task.token() + " takes no text, but got '" + text + "'");
            }
            return task.prompt();
        }
        if (!hasText) {
            throw new InvalidInputException("task " + task.token() + " needs text (" + describeInput(task)
                    + "), but got none");
        }
        if (task.takesRegion() && !LocationTokens.isRegion(text)) {
            throw new InvalidInputException("task " + task.token() + " needs " + describeInput(task)
                    + " from <loc_0> to <loc_999>, e.g. <loc_100><loc_200><loc_300><loc_400>, but got '" + text + "'");
        }
        for (Task other : Task.values()) {
            if (text.contains(other.token())) {
                throw new InvalidInputException("the text of task " + task.token() + " must not contain the task token "
                        + other.token() + ": '" + text + "'");
            }
        }
        return task.prompt().replace(Task.INPUT_PLACEHOLDER, text);
    }

    /**
     * A prompt as the reference's processor reads it ({@code processor(text=prompt)}): the task it names and that
     * task's text, or no task for a prompt sent to the tokenizer as it is.
     *
     * @param task the task whose token the prompt holds, or {@code null} when it holds none
     * @param text the prompt without the task token (the task's text; {@code null} for a task without input), or the
     *             whole prompt when {@code task} is {@code null}
     */
    public record Parsed(Task task, String text) {}

    /**
     * Reads a prompt of the caller's own as the reference's {@code _construct_prompts} does: a task token without
     * input must be the whole prompt; a task token with input is cut out of it, wherever it stands, and the rest is
     * the task's text (as it is, spaces included); a prompt without a task token (a fine-tuned model's own, such as
     * {@code <DocVQA>What is the total?}) is sent as it is, and its answer is pure text. The task's text is checked
     * later, when {@link #build(Task, String)} makes its prompt.
     *
     * @param prompt the whole prompt, not {@code null}
     * @throws InvalidInputException when a task token without input is not the whole prompt (the reference asserts)
     */
    public static Parsed parse(String prompt) {
        for (Task task : Task.values()) {
            if (!task.takesText() && prompt.contains(task.token())) {
                if (!prompt.equals(task.token())) {
                    throw new InvalidInputException("the task token " + task.token() + " must be the whole prompt,"
                            + " but got '" + prompt + "'");
                }
                return new Parsed(task, null);
            }
        }
        for (Task task : Task.values()) {
            if (task.takesText() && prompt.contains(task.token())) {
                return new Parsed(task, prompt.replace(task.token(), ""));
            }
        }
        return new Parsed(null, prompt);
    }

    /**
     * The prompt for a region task ({@link Task#takesRegion()}), the region given as a pixel box on an image of
     * {@code width × height} and quantized to location tokens.
     *
     * @throws InvalidInputException when the task takes no region or the region cannot be quantized
     */
    public static String build(Task task, Box region, int width, int height) {
        if (!task.takesRegion()) {
            throw new InvalidInputException("task " + task.token() + " takes no region, but got " + region);
        }
        return build(task, LocationTokens.region(region, width, height));
    }

    private static String describeInput(Task task) {
        return task.takesRegion() ? "a region as four <loc_N> tokens" : "a phrase or caption";
    }
}
