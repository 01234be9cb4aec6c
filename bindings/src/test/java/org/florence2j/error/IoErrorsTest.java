package org.florence2j.error;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
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
        assertEquals("No such file or directory",
                IoErrors.reason(assertThrows(IOException.class, () -> Files.newInputStream(missing))));
        Path folder = Files.createDirectory(temp.resolve("folder"));
        assertEquals("File exists", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.createDirectory(folder))));
        Files.writeString(folder.resolve("inside.txt"), "text");
        assertEquals("Directory not empty", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.delete(folder))));
        Path underAFile = folder.resolve("inside.txt").resolve("below.png");
        assertEquals("Not a directory", IoErrors.reason(assertThrows(IOException.class,
                () -> Files.newInputStream(underAFile))));
    }

    /** Made by hand: as root, which the tests may run as, no file operation is denied. */
    @Test
    void permissionDeniedIsWordedFromTheType() {
        assertEquals("Permission denied", IoErrors.reason(new AccessDeniedException("/root/photo.png")));
        assertEquals("Read-only file system",
                IoErrors.reason(new FileSystemException("/mnt/photo.png", null, "Read-only file system")));
        assertEquals("Stream closed", IoErrors.reason(new IOException("Stream closed")));
    }
}
