package org.florence2j;

import org.florence2j.error.Florence2Exception;

/**
 * A request stopped before it ended because its calling thread was interrupted; {@link RequestTimeoutException}
 * when its {@link RunOptions#timeout} passed. The caller's interrupt status is kept, and the model stays usable.
 */
public class RequestCancelledException extends Florence2Exception {
    /** Reports a request stopped for {@code message}'s reason. */
    public RequestCancelledException(String message) {
        super(message);
    }
}
