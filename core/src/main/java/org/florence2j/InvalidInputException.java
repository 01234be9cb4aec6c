package org.florence2j;

import org.florence2j.error.Florence2Exception;

/**
 * An input was refused: an unreadable or oversized image, an unknown task, a task given text it does not take (or
 * missing text it needs), a malformed region. The message names the input.
 */
public final class InvalidInputException extends Florence2Exception {
    /** An input refused for the reason {@code message} gives, naming the input. */
    public InvalidInputException(String message) {
        super(message);
    }

    /** An input refused for the reason {@code message} gives, naming the input, because of {@code cause}. */
    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
