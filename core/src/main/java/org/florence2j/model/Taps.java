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
    Taps NONE = new Taps() {
        @Override
        public void tap(String name, Tensor tensor) {}

        @Override
        public boolean readsVisionTower() {
            return false;
        }
    };

    /**
     * Called with a tensor that is valid only during the call: a recorder must copy it.
     *
     * @param name   the tap name, as in the golden files
     * @param tensor the tensor on the backend's device
     */
    void tap(String name, Tensor tensor);

    /**
     * Whether these taps read the intermediates inside the vision tower ({@code davit_stage*}). Taps that answer
     * {@code false} are not given them, which lets a GPU session replay the whole tower from a captured graph; they
     * still get every tap outside it ({@code pixel_values}, {@code image_features} and the text model's). The
     * default, {@code true}, gets every tap.
     */
    default boolean readsVisionTower() {
        return true;
    }
}
