package org.florence2j.error;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * Words for why a file operation failed, for the end of an error message that already names the file. The
 * {@code java.nio.file} exceptions for the common causes carry only the path as their message (an
 * {@link AccessDeniedException}'s message is the path, not "Permission denied"), so the cause is read from the
 * exception's type, worded as the C library's {@code strerror} words it.
 */
public final class IoErrors {
    private IoErrors() {}

    /** Why {@code error} happened, without the file name: "Permission denied", "No such file or directory", …. */
    public static String reason(IOException error) {
        return switch (error) {
            case AccessDeniedException e -> "Permission denied";
            case NoSuchFileException e -> "No such file or directory";
            case FileAlreadyExistsException e -> "File exists";
            case NotDirectoryException e -> "Not a directory";
            case DirectoryNotEmptyException e -> "Directory not empty";
            case FileSystemException e when e.getReason() != null -> e.getReason();
            default -> error.getMessage() != null ? error.getMessage() : error.getClass().getSimpleName();
        };
    }
}
