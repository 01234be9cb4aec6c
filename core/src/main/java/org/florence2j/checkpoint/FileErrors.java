package org.florence2j.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/**
 * The cause of a failed file operation in words, for messages that already name the file: java.nio's
 * {@code AccessDeniedException}, {@code NoSuchFileException} and the like carry only the path as their message.
 */
public final class FileErrors {
    /** How Linux and macOS describe ELOOP, which java.nio reports as a plain {@link FileSystemException}. */
    private static final String LOOP_REASON = "Too many levels of symbolic links";

    private FileErrors() {}

    /**
     * The error for {@code file} failing to be read: it is missing, cannot be read (saying why), or is not JSON
     * (saying where).
     */
    public static CheckpointException readError(Path file, IOException e) {
        String problem = switch (e) {
            case JsonProcessingException json -> "cannot be read as JSON: " + JsonFiles.syntaxError(json);
            case NoSuchFileException missing -> "is missing";
            default -> "cannot be read: " + cause(e);
        };
        return new CheckpointException(file, null, -1, problem, e);
    }

    /** What went wrong in {@code e}: "permission denied", "does not exist", "symbolic link loop", … */
    public static String cause(IOException e) {
        return switch (e) {
            case AccessDeniedException denied -> "permission denied";
            case NoSuchFileException missing -> "does not exist";
            case NotDirectoryException notFolder -> "not a folder";
            case FileSystemLoopException loop -> "symbolic link loop";
            case FileSystemException other when other.getReason() != null
                    && other.getReason().startsWith(LOOP_REASON) -> "symbolic link loop";
            case FileSystemException other when other.getReason() != null -> other.getReason();
            case CharacterCodingException coding -> "not valid UTF-8 text";
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }
}
