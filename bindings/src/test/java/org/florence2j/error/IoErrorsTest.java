package org.florence2j.error;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link IoErrors#reason}: the cause in words, never just the path that the exception's message holds. */
class IoErrorsTest {
    @TempDir
    Path temp;

    @Test
    void failuresOfRealFileOperationsAreWorded() throws IOException {
        Path missing = temp.resolve("missing.png");
        assertEquals("does not exist",
                IoErrors.reason(assertThrows(IOException.class, () -> Files.newInputStream(missing))));
        Path folder = Files.createDirectory(temp.resolve("folder"));
        assertEquals("already exists", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.createDirectory(folder))));
        Files.writeString(folder.resolve("inside.txt"), "text");
        assertEquals("folder not empty", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.delete(folder))));
        Path underAFile = folder.resolve("inside.txt").resolve("below.png");
        assertEquals("not a folder", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.newInputStream(underAFile))));
    }

    /** Made by hand: as root, which the tests may run as, no file operation is denied. */
    @Test
    void permissionDeniedIsWordedFromTheType() {
        assertEquals("permission denied", IoErrors.reason(new AccessDeniedException("/root/photo.png")));
        assertEquals("read-only file system",
                IoErrors.reason(new FileSystemException("/mnt/photo.png", null, "Read-only file system")));
        assertEquals("Stream closed", IoErrors.reason(new IOException("Stream closed")));
        assertEquals("symbolic link loop", IoErrors.reason(new FileSystemLoopException("/m/model.safetensors")));
        assertEquals("symbolic link loop", IoErrors.reason(new FileSystemException("/m/x", null,
                "Too many levels of symbolic links or unable to access attributes of symbolic link")));
        assertEquals("not valid UTF-8 text", IoErrors.reason(new MalformedInputException(1)));
    }
}
