package org.florence2j.bindings;

/** A oneDNN C API call returned a status other than {@code dnnl_success}. */
public final class DnnlException extends NativeCallException {
    public DnnlException(String call, int status, String statusName) {
        super(call, status, statusName);
    }
}
