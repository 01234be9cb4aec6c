package org.florence2j;

/** A request stopped before it ended because its {@link RunOptions#timeout} passed; the model stays usable. */
public final class RequestTimeoutException extends RequestCancelledException {
    /** Reports a request stopped by its timeout; {@code message} says when. */
    public RequestTimeoutException(String message) {
        super(message);
    }
}
