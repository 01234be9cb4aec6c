package org.florence2j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.florence2j.error.IoErrors;

/**
 * Checks the files that {@code run --draw} and {@code --dump-taps} will write, before the model loads, so that a bad
 * name costs no model load and no run: their folder must take a new file, and a name that is already taken must be
 * a writable regular file. A pipe, device or socket is refused, not replaced or written into: as root,
 * {@code --draw /dev/null} would otherwise turn the device into a PNG file.
 */
final class OutputFiles {
    /** File type bits of a {@code unix:mode}, and the types a name may hold besides files and folders (inode(7)). */
    private static final int TYPE_BITS = 0170000;
    private static final int NAMED_PIPE = 0010000;
    private static final int CHARACTER_DEVICE = 0020000;
    private static final int BLOCK_DEVICE = 0060000;
    private static final int SOCKET = 0140000;

    private OutputFiles() {}

    /**
     * Checks that {@code option} can write each of {@code files}, which are in one folder.
     *
     * @throws InvalidInputException naming the option, the file and the cause
     */
    static void check(String option, List<Path> files) {
        checkFolder(option, files.getFirst());
        for (Path file : files) {
            checkName(option, file);
        }
    }

    private static void checkFolder(String option, Path file) {
        Path folder = file.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) {
            throw new InvalidInputException(option + " " + file + ": " + folder
                    + (folder != null && Files.exists(folder) ? " is not a folder" : " does not exist"));
        }
        // Only making a file tells: access(2) says "writable" to root for every folder, /proc included.
        try {
            Files.delete(Files.createTempFile(folder, ".florence2-", ".probe"));
        } catch (IOException e) {
            throw new InvalidInputException(option + " " + file + ": cannot create a file in folder " + folder + ": "
                    + IoErrors.reason(e), e);
        }
    }

    private static void checkName(String option, Path file) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return; // a new file
        } catch (IOException e) {
            throw new InvalidInputException(option + " " + file + " cannot be checked: " + IoErrors.reason(e), e);
        }
        if (attributes.isDirectory()) {
            throw new InvalidInputException(option + " " + file + " is a folder; give a file name");
        }
        if (!attributes.isRegularFile()) {
            throw new InvalidInputException(option + " " + file + " exists and is " + kind(file)
                    + ", not a regular file; give a new file name");
        }
        if (!Files.isWritable(file)) {
            throw new InvalidInputException(option + " " + file + " exists and is not writable");
        }
    }

    /** What {@code file}, neither a regular file nor a folder, is: a named pipe, a device or a socket. */
    private static String kind(Path file) {
        try {
            int mode = (int) Files.getAttribute(file, "unix:mode");
            return switch (mode & TYPE_BITS) {
                case NAMED_PIPE -> "a named pipe (FIFO)";
                case CHARACTER_DEVICE -> "a character device";
                case BLOCK_DEVICE -> "a block device";
                case SOCKET -> "a socket";
                default -> "a special file";
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "a special file"; // a file system without the "unix" attribute view
        }
    }
}
