package org.florence2j;

import java.nio.file.Path;

/**
 * One image and what to do with it.
 *
 * @param image the image
 * @param task  the Florence-2 task
 * @param text  the task's text input (a phrase, or {@code <loc_N>} region tokens), or {@code null} for tasks
 *              that take none
 */
public record Florence2Request(ImageSource image, Task task, String text) {
    public Florence2Request {
        if (image == null || task == null) {
            throw new IllegalArgumentException("Florence2Request: image and task are required");
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
}
