package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.tensor.Tensor;

/**
 * A PyTorch {@code nn.LayerNorm} over {@code channels} with the default {@code eps = 1e-5} that BART uses.
 *
 * @param weight {@code [channels]}
 * @param bias   {@code [channels]}
 */
record LayerNorm(Tensor weight, Tensor bias) {
    private static final float EPS = 1e-5f;

    static LayerNorm load(Weights w, String name, int channels, Backend backend, Arena arena) {
        Weights at = w.at(name);
        return new LayerNorm(Linear.upload(at, "weight", backend, arena, channels),
                Linear.upload(at, "bias", backend, arena, channels));
    }

    /** {@code out = layerNorm(x)}; {@code out} may alias {@code x}. */
    void forward(Backend backend, Tensor out, Tensor x) {
        backend.layerNorm(out, x, weight, bias, EPS);
    }
}
