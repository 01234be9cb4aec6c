package org.florence2j.model;

import org.florence2j.tensor.Tensor;

/**
 * Receives the named intermediate tensors of a forward pass ({@code "davit_stage2_out"},
 * {@code "encoder_last_hidden_state"}, …), llama.cpp's {@code cb(cur, name, il)} idea. The default, {@link #NONE},
 * does nothing, so taps cost nothing unless a test or {@code --dump-taps} records them.
 */
@FunctionalInterface
public interface Taps {
    /** Taps that ignore everything. */
    Taps NONE = (name, tensor) -> {};

    /**
     * Called with a tensor that is valid only during the call: a recorder must copy it.
     *
     * @param name   the tap name, as in the golden files
     * @param tensor the tensor on the backend's device
     */
    void tap(String name, Tensor tensor);
}
