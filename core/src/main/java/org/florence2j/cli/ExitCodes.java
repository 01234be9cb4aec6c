package org.florence2j.cli;

import org.florence2j.InvalidInputException;
import org.florence2j.RequestTimeoutException;
import org.florence2j.bindings.NativeCallException;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.checkpoint.CheckpointException;

/** The exit codes of the {@code florence2} command, and which error gives which. */
public final class ExitCodes {
    /** The command did what was asked. */
    public static final int OK = 0;
    /** Not an expected error: a bug, reported with its stack trace. */
    public static final int UNEXPECTED = 1;
    /** The command line is wrong: an unknown option, a missing or malformed value. */
    public static final int USAGE = 2;
    /** An input was refused: an image, the task, the task's text, or a {@code --draw}/{@code --dump-taps} file. */
    public static final int BAD_INPUT = 3;
    /**
     * The model folder or a checkpoint file in it is missing, corrupt, or does not fit the model; or a
     * {@code convert} output cannot be written.
     */
    public static final int BAD_MODEL = 4;
    /** A native library or device cannot be used (oneDNN, CUDA). */
    public static final int NATIVE = 5;
    /** A request ran longer than {@code run --timeout} allowed. */
    public static final int TIMEOUT = 6;

    private ExitCodes() {}

    /** The exit code for an error that ended a command. */
    public static int of(Throwable error) {
        return switch (error) {
            case InvalidInputException e -> BAD_INPUT;
            case CheckpointException e -> BAD_MODEL;
            case NativeLibraryException e -> NATIVE;
            case NativeCallException e -> NATIVE;
            case RequestTimeoutException e -> TIMEOUT;
            default -> UNEXPECTED;
        };
    }

    /** Whether {@code code} is an expected failure, reported by its message alone. */
    static boolean expected(int code) {
        return code != UNEXPECTED;
    }
}
