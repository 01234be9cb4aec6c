package org.florence2j.error;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/**
 * Words for why a file operation failed, for the end of an error message that already names the file. The
 * {@code java.nio.file} exceptions for the common causes carry only the path as their message (an
 * {@link AccessDeniedException}'s message is the path, not "Permission denied"), so the cause is read from the
 * exception's type; other causes are the operating system's own words, lower-cased to read mid-sentence.
 */
public final class IoErrors {
    /** How Linux and macOS describe ELOOP, which java.nio reports as a plain {@link FileSystemException}. */
    private static final String LOOP_REASON = "Too many levels of symbolic links";
    /** ENOTDIR as java.nio reports it when it does not throw a {@link NotDirectoryException}. */
    private static final String NOT_A_DIRECTORY = "Not a directory";

    private IoErrors() {}

    /** Why {@code error} happened, without the file name: "permission denied", "does not exist", …. */
    public static String reason(IOException error) {
        return switch (error) {
            case AccessDeniedException e -> "permission denied";
            case NoSuchFileException e -> "does not exist";
            case FileAlreadyExistsException e -> "already exists";
            case NotDirectoryException e -> "not a folder";
            case DirectoryNotEmptyException e -> "folder not empty";
            case FileSystemLoopException e -> "symbolic link loop";
            case FileSystemException e when e.getReason() != null && e.getReason().startsWith(LOOP_REASON) ->
                    "symbolic link loop";
            case FileSystemException e when NOT_A_DIRECTORY.equals(e.getReason()) -> "not a folder";
            case FileSystemException e when e.getReason() != null -> lowerFirst(e.getReason());
            case CharacterCodingException e -> "not valid UTF-8 text";
            default -> error.getMessage() != null ? error.getMessage() : error.getClass().getSimpleName();
        };
    }

    private static String lowerFirst(String reason) {
        return reason.isEmpty() ? reason : reason.substring(0, 1).toLowerCase(Locale.ROOT) + reason.substring(1);
    }
}
