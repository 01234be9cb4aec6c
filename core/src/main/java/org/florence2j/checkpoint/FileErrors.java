package org.florence2j.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.florence2j.error.IoErrors;

/** The {@link CheckpointException} for a model file that cannot be read, with the cause in words. */
public final class FileErrors {
    private FileErrors() {}

    /**
     * The error for {@code file} failing to be read: it is missing, cannot be read (saying why), or is not JSON
     * (saying where).
     */
    public static CheckpointException readError(Path file, IOException e) {
        String problem = switch (e) {
            case JsonProcessingException json -> "cannot be read as JSON: " + JsonFiles.syntaxError(json);
            case NoSuchFileException missing -> "is missing";
            default -> "cannot be read: " + IoErrors.reason(e);
        };
        return new CheckpointException(file, null, -1, problem, e);
    }
}
