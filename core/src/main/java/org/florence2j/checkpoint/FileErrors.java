package org.florence2j.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
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

    /**
     * Refuses {@code file} unless it is a regular file, links followed: a folder, a broken or looping link, or one
     * whose attributes cannot be read, which {@code Files.isRegularFile} would only answer with false; and a named
     * pipe or device, whose reading could block for ever.
     *
     * @throws CheckpointException saying which of those {@code file} is
     */
    public static void requireRegularFile(Path file) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, null, -1, Files.isSymbolicLink(file)
                    ? "is a broken symbolic link (its target does not exist)" : "is missing", e);
        } catch (IOException e) {
            throw new CheckpointException(file, null, -1, "cannot be read: " + IoErrors.reason(e), e);
        }
        if (!attributes.isRegularFile()) {
            throw new CheckpointException(file, null, -1, attributes.isDirectory() ? "is a folder, not a file"
                    : "is not a regular file");
        }
    }
}
