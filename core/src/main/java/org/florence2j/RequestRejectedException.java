package org.florence2j;

import org.florence2j.error.Florence2Exception;

/**
 * A call refused before any of its work because its model already had {@link Florence2Options#maxConcurrentCalls}
 * calls in progress. Nothing of it ran; the caller may retry later or send it elsewhere.
 */
public final class RequestRejectedException extends Florence2Exception {
    /** Reports a call refused for {@code message}'s reason. */
    public RequestRejectedException(String message) {
        super(message);
    }
}
