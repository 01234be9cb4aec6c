package org.florence2j.bindings;

/**
 * A CUDA runtime, driver, cuBLAS or NVRTC call returned a failure status. The status name is the library's own
 * ({@code cudaErrorMemoryAllocation}, {@code CUBLAS_STATUS_NOT_SUPPORTED}, {@code NVRTC_ERROR_COMPILATION}); an
 * optional detail carries what the library said beyond the status, such as NVRTC's compile log.
 */
public final class CudaException extends NativeCallException {
    private final String detail;

    public CudaException(String call, int status, String statusName) {
        this(call, status, statusName, "");
    }

    public CudaException(String call, int status, String statusName, String detail) {
        super(call, status, statusName);
        this.detail = detail;
    }

    /** What the library said beyond the status (a compile log), or empty. */
    public String detail() {
        return detail;
    }

    @Override
    public String getMessage() {
        return detail.isEmpty() ? super.getMessage() : super.getMessage() + ":\n" + detail;
    }
}
