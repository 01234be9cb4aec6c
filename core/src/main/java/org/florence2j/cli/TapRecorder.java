package org.florence2j.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.florence2j.InvalidInputException;
import org.florence2j.Task;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.SafetensorsWriter;
import org.florence2j.model.Taps;
import org.florence2j.tensor.Tensor;

/**
 * {@code --dump-taps}: keeps a host copy of the taps of one image's run, each in the dtype it was tapped in, and
 * writes them as one safetensors file under the goldens' names ({@code pixel_values}, {@code resized_uint8_hwc},
 * {@code davit_stage<i>_after_conv}, {@code davit_stage<i>_out}, {@code image_features},
 * {@code encoder_inputs_embeds}, {@code encoder_last_hidden_state}).
 *
 * <p>Unlike {@link org.florence2j.model.RecordingTaps}, which converts every tap to F32 through a backend, this
 * copies bytes as they are, so {@code resized_uint8_hwc} stays U8 as in the goldens. It therefore reads host
 * tensors only: the CPU device.
 */
final class TapRecorder implements Taps, AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> recorded = new LinkedHashMap<>();

    @Override
    public synchronized void tap(String name, Tensor tensor) {
        // Decoder taps fire once per generated token: copying the logits at every step would slow generation for
        // a file that could keep only the last step anyway.
        if (name.startsWith("decoder_")) {
            return;
        }
        if (!tensor.device().isHost()) {
            throw new IllegalStateException("--dump-taps reads host tensors only; tap '" + name + "' is on "
                    + tensor.device());
        }
        Tensor copy = Tensor.allocateHost(tensor.dtype(), tensor.shape(), arena);
        MemorySegment.copy(tensor.memory(), 0, copy.memory(), 0, tensor.byteSize());
        recorded.put(name, copy);
    }

    /** The tensors recorded so far, by tap name in the order first tapped. */
    synchronized Map<String, Tensor> recorded() {
        return Map.copyOf(recorded);
    }

    /**
     * Writes what was recorded to {@code file}, noting in the file's metadata the {@code image}, the {@code task}
     * token (none for a prompt that names no task) and the {@code prompt} as given (the task token and its text, or
     * {@code --prompt}).
     *
     * @throws InvalidInputException naming the file and the cause when it cannot be written
     */
    synchronized void write(Path file, Path image, Task task, String prompt) {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("image", image.toString());
        if (task != null) {
            metadata.put("task", task.token());
        }
        metadata.put("prompt", prompt);
        try {
            SafetensorsWriter.write(file, recorded, metadata);
        } catch (CheckpointException e) {
            // A file the user named for output, not a model file: a bad input (exit 3), as for --draw.
            throw new InvalidInputException("--dump-taps " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
