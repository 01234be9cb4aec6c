package org.florence2j.checkpoint;

import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A prefix view of a {@link Checkpoint}, modelled on candle's {@code vb.pp(...)}:
 * {@code w.at("blocks").at(0).at("spatial_block")} reads names under {@code blocks.0.spatial_block.}. Weight-name
 * strings appear only in the blocks' {@code load} methods, and a missing or misshapen tensor fails at load.
 */
public final class Weights {
    /** The dtypes a weight may be stored in: every backend converts these to its compute dtype. */
    private static final Set<DType> STORED_DTYPES = Set.of(DType.F32, DType.F16, DType.BF16);

    private final Checkpoint checkpoint;
    private final String prefix;

    private Weights(Checkpoint checkpoint, String prefix) {
        this.checkpoint = checkpoint;
        this.prefix = prefix;
    }

    /** The root view of {@code checkpoint}. */
    public static Weights of(Checkpoint checkpoint) {
        return new Weights(checkpoint, "");
    }

    /** The view under {@code prefix + segment + "."}. */
    public Weights at(String segment) {
        return new Weights(checkpoint, prefix + segment + ".");
    }

    /** The view under {@code prefix + index + "."}. */
    public Weights at(int index) {
        return at(Integer.toString(index));
    }

    /** The full name of {@code name} under this view. */
    public String fullName(String name) {
        return prefix + name;
    }

    /** The underlying checkpoint. */
    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** Whether {@code name} exists under this view. */
    public boolean contains(String name) {
        return checkpoint.find(fullName(name)).isPresent();
    }

    /** The tensor {@code name} under this view, if present. */
    public Optional<Tensor> find(String name) {
        return checkpoint.find(fullName(name));
    }

    /**
     * The tensor {@code name}, which must have shape {@code expected} and one of the {@link #STORED_DTYPES}.
     *
     * @throws CheckpointException naming the tensor (and both shapes, or its dtype) when it is missing, misshapen
     *                             or not stored as a float type the backends read
     */
    public Tensor tensor(String name, int... expected) {
        String full = fullName(name);
        Tensor tensor = checkpoint.tensor(full);
        Shape want = new Shape(expected);
        if (!tensor.shape().equals(want)) {
            throw new CheckpointException(checkpoint.fileOf(full), full, -1,
                    "has shape " + tensor.shape() + " but the config implies " + Arrays.toString(expected));
        }
        if (!STORED_DTYPES.contains(tensor.dtype())) {
            // F64 is a float type, but no backend computes from it; convert narrows it like torch's Tensor.to.
            String hint = tensor.dtype() == DType.F64 ? " (`florence2 convert` rewrites F64 weights as f32)" : "";
            throw new CheckpointException(checkpoint.fileOf(full), full, -1, "has dtype " + tensor.dtype()
                    + "; a weight must be F32, F16 or BF16" + hint);
        }
        return tensor;
    }

    @Override
    public String toString() {
        return "Weights[" + prefix + "]";
    }
}
