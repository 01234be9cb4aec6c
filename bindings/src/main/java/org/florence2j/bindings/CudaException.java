package org.florence2j.bindings;

import java.util.Set;

/**
 * A CUDA runtime, driver, cuBLAS or NVRTC call returned a failure status. The status name is the library's own
 * ({@code cudaErrorMemoryAllocation}, {@code CUBLAS_STATUS_NOT_SUPPORTED}, {@code NVRTC_ERROR_COMPILATION}); an
 * optional detail carries what the library said beyond the status, such as NVRTC's compile log.
 */
public final class CudaException extends NativeCallException {
    /** The statuses of memory running out: the runtime's, the driver's, cuBLAS's, cuDNN's and NVRTC's. */
    private static final Set<String> OUT_OF_MEMORY = Set.of("cudaErrorMemoryAllocation", "CUDA_ERROR_OUT_OF_MEMORY",
            "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED", "NVRTC_ERROR_OUT_OF_MEMORY");

    private final String detail;

    public CudaException(String call, int status, String statusName) {
        this(call, status, statusName, "");
    }

    public CudaException(String call, int status, String statusName, String detail) {
        super(call, status, statusName);
        this.detail = detail;
    }

    /**
     * Whether the device ran out of memory: unlike most CUDA errors this one leaves the context usable, and a
     * smaller allocation may still succeed.
     */
    public boolean isOutOfMemory() {
        return OUT_OF_MEMORY.contains(statusName());
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
