package org.florence2j.checkpoint;

import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.florence2j.tensor.Tensor;

/**
 * Named host tensors read from a checkpoint (safetensors, sharded safetensors, PyTorch zip), memory-mapped where
 * the format allows. Tensors stay valid until {@link #close()}.
 */
public interface Checkpoint extends AutoCloseable {
    /** Every tensor name, in file order where the format has one. */
    Set<String> names();

    /** The tensor called {@code name}, if present. */
    Optional<Tensor> find(String name);

    /** The file that holds {@code name}, for error messages; the checkpoint's main file when absent. */
    Path fileOf(String name);

    /**
     * The tensor called {@code name}.
     *
     * @throws CheckpointException naming the checkpoint and the tensor when it is absent
     */
    default Tensor tensor(String name) {
        return find(name).orElseThrow(() -> new CheckpointException(fileOf(name), name, -1, "is missing"));
    }

    /** Unmaps the files; tensors handed out become unusable. */
    @Override
    void close();
}
