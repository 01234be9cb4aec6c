package org.florence2j.model;

/**
 * Lets a request stop before it ends: a {@link Session} checks it before each of the vision tower's stages and
 * blocks (once, before the pass, where a GPU replays the tower as a captured graph), each encoder layer and every
 * decoder step, and whatever it throws ends the request there. The default,
 * {@link #NONE}, never stops one. A check must not allocate: it runs once per generated token.
 */
@FunctionalInterface
public interface Cancellation {
    /** Never stops a request. */
    Cancellation NONE = () -> {};

    /** Returns when the request may go on; throws (an unchecked exception of the owner's choosing) when it stops. */
    void throwIfCancelled();
}
