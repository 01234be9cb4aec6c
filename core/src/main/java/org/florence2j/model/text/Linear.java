package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * A PyTorch {@code nn.Linear} with bias, uploaded to the backend: {@code out = x·weightᵀ + bias}.
 *
 * @param weight {@code [outFeatures, inFeatures]}
 * @param bias   {@code [outFeatures]}
 */
record Linear(Tensor weight, Tensor bias) {
    /** Loads {@code name.weight} and {@code name.bias}, checking both shapes. */
    static Linear load(Weights w, String name, int outFeatures, int inFeatures, Backend backend, Arena arena) {
        return load(w, name, outFeatures, inFeatures, backend, arena, DType.F32);
    }

    /**
     * {@link #load} with the weight uploaded for {@code weightType} ({@link Backend#uploadLinearWeight}: BF16 packs
     * it in bf16 on the CPU); the bias stays F32.
     */
    static Linear load(Weights w, String name, int outFeatures, int inFeatures, Backend backend, Arena arena,
            DType weightType) {
        Weights at = w.at(name);
        return new Linear(backend.uploadLinearWeight(at.tensor("weight", outFeatures, inFeatures), weightType, arena),
                upload(at, "bias", backend, arena, outFeatures));
    }

    /** Reads one tensor of the expected shape and converts it to the backend's F32 form. */
    static Tensor upload(Weights w, String name, Backend backend, Arena arena, int... dims) {
        return backend.upload(w.tensor(name, dims), DType.F32, arena);
    }

    /** {@code out [..., outFeatures] = x [..., inFeatures]·weightᵀ + bias}. */
    void forward(Backend backend, Tensor out, Tensor x) {
        backend.linear(out, x, weight, bias);
    }

    /** {@code residual [..., outFeatures] += x [..., inFeatures]·weightᵀ + bias}, one pass over {@code residual}. */
    void forwardResidual(Backend backend, Tensor residual, Tensor x) {
        backend.linearResidual(residual, x, weight, bias);
    }

    /** {@code out = gelu(x·weightᵀ + bias)} (exact GELU, BART's {@code activation_function}), fused where it can. */
    void forwardGelu(Backend backend, Tensor out, Tensor x) {
        backend.linearGelu(out, x, weight, bias);
    }
}
