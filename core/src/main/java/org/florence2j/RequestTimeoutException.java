package org.florence2j;

/** A request stopped before it ended because its {@link RunOptions#timeout} passed; the model stays usable. */
public final class RequestTimeoutException extends RequestCancelledException {
    public RequestTimeoutException(String message) {
        super(message);
    }
}
