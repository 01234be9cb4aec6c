package org.florence2j.error;

/**
 * The one unchecked base of every error florence2j raises on purpose.
 *
 * <p>Subclasses carry the details a user needs to act: the file, tensor and byte offset of a bad checkpoint,
 * the paths searched for a missing native library, the native call and status that failed, or the input that
 * was refused. The library never calls {@code System.exit}; only the command line turns these into exit codes.
 */
public class Florence2Exception extends RuntimeException {
    public Florence2Exception(String message) {
        super(message);
    }

    public Florence2Exception(String message, Throwable cause) {
        super(message, cause);
    }
}
