package org.florence2j.bindings;

import java.util.List;
import org.florence2j.error.Florence2Exception;

/**
 * A native library (or one of its symbols) could not be loaded.
 *
 * <p>The message names the library, every place that was searched and how to point florence2j at another copy,
 * so that a CPU-only machine can load every class and fail, late and clearly, only when a library is used.
 */
public final class NativeLibraryException extends Florence2Exception {
    private final String library;
    private final List<String> searched;

    public NativeLibraryException(String library, List<String> searched, String message) {
        super(message);
        this.library = library;
        this.searched = List.copyOf(searched);
    }

    public NativeLibraryException(String library, List<String> searched, String message, Throwable cause) {
        super(message, cause);
        this.library = library;
        this.searched = List.copyOf(searched);
    }

    /** The human name of the library, e.g. {@code "oneDNN"}. */
    public String library() {
        return library;
    }

    /** Every candidate path or name that was tried, in order. */
    public List<String> searched() {
        return searched;
    }
}
