package org.florence2j;

import org.florence2j.error.Florence2Exception;

/**
 * A request refused before any of its work because its model already had {@link Florence2Options#maxPendingRequests}
 * requests in progress. Nothing of it ran; the caller may retry later or send it elsewhere.
 */
public class RequestRejectedException extends Florence2Exception {
    /** Reports a request refused for {@code message}'s reason. */
    public RequestRejectedException(String message) {
        super(message);
    }
}
