package org.florence2j.model;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * What a block's {@code forward} needs besides its input and output: the backend that computes, the arena that
 * owns this request's activations, and the taps that observe named intermediates.
 *
 * @param backend the backend every op runs on
 * @param arena   owner of scratch activations allocated during this request
 * @param taps    observer of named intermediates; {@link Taps#NONE} by default
 */
public record ForwardContext(Backend backend, Arena arena, Taps taps) {
    /** Allocates a zeroed F32 activation owned by this request's arena. */
    public Tensor allocate(Shape shape) {
        return backend.allocate(DType.F32, shape, arena);
    }

    /** Reports {@code tensor} under {@code name} to the taps. */
    public void tap(String name, Tensor tensor) {
        taps.tap(name, tensor);
    }
}
