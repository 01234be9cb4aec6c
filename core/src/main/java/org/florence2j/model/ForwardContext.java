package org.florence2j.model;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * What a block's {@code forward} needs besides its input and output: the backend that computes, the arena that
 * owns this request's activations, the taps that observe named intermediates, and the request's cancellation.
 *
 * @param backend      the backend every op runs on
 * @param arena        owner of scratch activations allocated during this request
 * @param taps         observer of named intermediates; {@link Taps#NONE} by default
 * @param cancellation checked between blocks of long passes; {@link Cancellation#NONE} by default
 */
public record ForwardContext(Backend backend, Arena arena, Taps taps, Cancellation cancellation) {
    /** A context whose request cannot be cancelled. */
    public ForwardContext(Backend backend, Arena arena, Taps taps) {
        this(backend, arena, taps, Cancellation.NONE);
    }

    /** Allocates a zeroed F32 activation owned by this request's arena. */
    public Tensor allocate(Shape shape) {
        return backend.allocate(DType.F32, shape, arena);
    }

    /** Throws when the request has been cancelled (see {@link Cancellation}). */
    public void throwIfCancelled() {
        cancellation.throwIfCancelled();
    }

    /** Reports {@code tensor} under {@code name} to the taps. */
    public void tap(String name, Tensor tensor) {
        taps.tap(name, tensor);
    }
}
