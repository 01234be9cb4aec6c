package org.florence2j;

/**
 * Receives generated tokens as they are chosen (greedy search only: beam search settles its tokens only at the
 * end). Called on the model's engine thread ({@code florence2j-engine-cpu}, not the caller's), between decoder
 * steps: it should return quickly, and must not run or close a model ({@link IllegalStateException}). The engine
 * serves one request at a time, so a listener that blocks holds up every model on the device; requests queued behind
 * it can still give up through their own timeout or interrupt, and so can calls in one batch with it
 * ({@link Florence2Options#maxCoalescedImages}). An exception the listener throws ends its request (in such a batch,
 * its own call only) and reaches the caller as it is; a checked one (which a language without checked exceptions,
 * or a sneaky throw, can raise here) arrives as the cause of an {@link IllegalStateException}. The model serves the
 * next request as usual.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * Hears one generated token of one image as it is chosen, in order.
     *
     * @param image   the index of the image in the batch (0 for a single request)
     * @param tokenId the chosen token
     * @param piece   its text (the token itself for special tokens such as {@code <loc_12>})
     */
    void onToken(int image, int tokenId, String piece);
}
