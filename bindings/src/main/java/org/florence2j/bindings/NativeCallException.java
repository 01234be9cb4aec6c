package org.florence2j.bindings;

import org.florence2j.error.Florence2Exception;

/**
 * A native call returned a failure status. {@code DnnlException} and {@code CudaException} specialise it.
 */
public class NativeCallException extends Florence2Exception {
    private final String call;
    private final int status;
    private final String statusName;

    public NativeCallException(String call, int status, String statusName) {
        super(call + " failed with status " + status + " (" + statusName + ")");
        this.call = call;
        this.status = status;
        this.statusName = statusName;
    }

    /**
     * The native function that failed, e.g. {@code "dnnl_primitive_execute"}, or the operation it was part of where
     * florence2j found the failure itself (opening a CUDA device beyond those visible).
     */
    public String call() {
        return call;
    }

    /** The raw status code the function returned. */
    public int status() {
        return status;
    }

    /** The library's name for the status, e.g. {@code "dnnl_invalid_arguments"}. */
    public String statusName() {
        return statusName;
    }
}
