package org.florence2j.checkpoint;

import java.nio.file.Path;
import java.util.Optional;
import org.florence2j.error.Florence2Exception;

/**
 * A checkpoint file or folder is unreadable, corrupt, or does not fit the model: the message names the file and,
 * where they apply, the tensor and the byte offset.
 */
public final class CheckpointException extends Florence2Exception {
    private final Path file;
    private final String tensor;
    private final long byteOffset;

    /**
     * @param file       the file at fault
     * @param tensor     the tensor at fault, or {@code null}
     * @param byteOffset the byte offset at fault, or {@code -1}
     * @param message    the cause, without the file name (it is prefixed)
     */
    public CheckpointException(Path file, String tensor, long byteOffset, String message) {
        super(format(file, tensor, message));
        this.file = file;
        this.tensor = tensor;
        this.byteOffset = byteOffset;
    }

    public CheckpointException(Path file, String tensor, long byteOffset, String message, Throwable cause) {
        super(format(file, tensor, message), cause);
        this.file = file;
        this.tensor = tensor;
        this.byteOffset = byteOffset;
    }

    private static String format(Path file, String tensor, String message) {
        String where = file == null ? "" : file + ": ";
        String which = tensor == null ? "" : "tensor '" + tensor + "' ";
        return where + which + message;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, if one is. */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }

    /** The byte offset at fault, or -1. */
    public long byteOffset() {
        return byteOffset;
    }
}
