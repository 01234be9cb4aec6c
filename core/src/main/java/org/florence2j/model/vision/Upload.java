package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * Reads one weight by name, checks its shape against the config, and puts it on the backend: an F32 copy, or the
 * form the backend keeps for the op that reads it (linear and convolution weights).
 */
final class Upload {
    private Upload() {}

    /**
     * @throws org.florence2j.checkpoint.CheckpointException naming the tensor and both shapes when it is missing or
     *                                                       misshapen
     */
    static Tensor f32(Weights w, String name, Backend backend, Arena owner, int... dims) {
        return backend.upload(w.tensor(name, dims), DType.F32, owner);
    }

    /** A convolution's {@code weight} ({@code Backend.uploadConvWeight}), checked like {@link #f32}. */
    static Tensor convWeight(Weights w, Backend backend, Arena owner, int... dims) {
        return backend.uploadConvWeight(w.tensor("weight", dims), owner);
    }

    /** {@link #f32} for a weight only {@code Backend.linear} reads ({@code [outFeatures, inFeatures]}). */
    static Tensor linearWeight(Weights w, Backend backend, Arena owner, int outFeatures, int inFeatures) {
        return backend.uploadLinearWeight(w.tensor("weight", outFeatures, inFeatures), DType.F32, owner);
    }
}
