package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.florence2j.bindings.Downcalls.invoke;
import static org.florence2j.bindings.Downcalls.invokeValue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * cuBLAS ({@code libcublas}): the GEMMs. cuBLAS is column-major; callers that think row-major swap the operands
 * (row-major {@code C = A·B} is column-major {@code Cᵀ = Bᵀ·Aᵀ}).
 *
 * <p>Only the {@code *Ex} GEMMs are bound: one entry point takes F32, F16 and BF16 operands, and the compute type
 * is always {@link #COMPUTE_32F} (F32 accumulation; tensor cores for 16-bit inputs, never TF32 for F32 inputs).
 */
public final class Cublas {
    /** {@code CUBLAS_OP_N}. */
    public static final int OP_N = 0;
    /** {@code CUBLAS_OP_T}. */
    public static final int OP_T = 1;
    /** {@code cudaDataType} {@code CUDA_R_32F}. */
    public static final int R_32F = 0;
    /** {@code cudaDataType} {@code CUDA_R_16F}. */
    public static final int R_16F = 2;
    /** {@code cudaDataType} {@code CUDA_R_16BF}. */
    public static final int R_16BF = 14;
    /** {@code CUBLAS_COMPUTE_32F}: F32 accumulation, no down-conversion of F32 inputs. */
    public static final int COMPUTE_32F = 68;
    /** {@code CUBLAS_GEMM_DEFAULT}: let cuBLAS choose (tensor cores where the types allow). */
    public static final int GEMM_DEFAULT = -1;

    private static final Logger LOG = Logger.getLogger(Cublas.class.getName());
    private static final int SUCCESS = 0;
    private static final List<String> LT_FILES = List.of("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so");
    private static final List<String> FILES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so");

    // libcublas needs libcublasLt; loading it first from the same search lets the loader resolve it by soname
    // even where the CUDA folder is not on the loader's path.
    private static final NativeLibrary LT = CudaLibraries.find("cuBLASLt", LT_FILES, "cublaslt");
    private static final NativeLibrary LIB = CudaLibraries.find("cuBLAS", FILES, "cublas");

    private Cublas() {}

    private static MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        return LIB.lateFailingDowncall(symbol, descriptor);
    }

    /** The library as found; {@link NativeLibrary#failure()} says why it is missing. */
    public static NativeLibrary library() {
        return LIB;
    }

    private static final class GetStatusName {
        // const char* cublasGetStatusName(cublasStatus_t status)
        static final MethodHandle H = downcall("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static final class Create {
        // cublasStatus_t cublasCreate_v2(cublasHandle_t* handle)
        static final MethodHandle H = downcall("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class Destroy {
        // cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
        static final MethodHandle H = downcall("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetStream {
        // cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
        static final MethodHandle H = downcall("cublasSetStream_v2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class SetWorkspace {
        // cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes)
        static final MethodHandle H = downcall("cublasSetWorkspace_v2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    }

    private static final class GemmEx {
        // cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
        //     int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
        //     const void* B, cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
        //     cublasComputeType_t computeType, cublasGemmAlgo_t algo)
        static final MethodHandle H = downcall("cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class GemmStridedBatchedEx {
        // cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
        //     cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
        //     int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb, long long int strideB,
        //     const void* beta, void* C, cudaDataType Ctype, int ldc, long long int strideC, int batchCount,
        //     cublasComputeType_t computeType, cublasGemmAlgo_t algo)
        static final MethodHandle H = downcall("cublasGemmStridedBatchedEx", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT));
    }

    /** cuBLAS's name for a status, e.g. {@code "CUBLAS_STATUS_NOT_SUPPORTED"}. */
    public static String getStatusName(int status) {
        return CudaLibraries.string(invokeValue(() -> (MemorySegment) GetStatusName.H.invokeExact(status)),
                "cublasStatus " + status);
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is {@code CUBLAS_STATUS_SUCCESS}. */
    public static void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, getStatusName(status));
        }
    }

    /** {@code cublasCreate_v2} on the current device; destroyed when {@code owner} closes. */
    public static MemorySegment create(Arena owner) {
        if (!LT.isAvailable()) {
            throw LT.failure().orElseThrow();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) Create.H.invokeExact(out)), "cublasCreate_v2");
            return out.get(ADDRESS, 0).reinterpret(0, owner, handle -> {
                int status = invoke(() -> (int) Destroy.H.invokeExact(handle));
                if (status != SUCCESS) {
                    LOG.log(Level.WARNING, "cublasDestroy_v2 failed: {0}", getStatusName(status));
                }
            });
        }
    }

    /** {@code cublasSetStream_v2}: later calls on {@code handle} queue on {@code stream}. */
    public static void setStream(MemorySegment handle, MemorySegment stream) {
        check(invoke(() -> (int) SetStream.H.invokeExact(handle, stream)), "cublasSetStream_v2");
    }

    /**
     * {@code cublasSetWorkspace_v2}: later calls on {@code handle} use {@code workspace} (device memory, 256-byte
     * aligned, {@code byteSize} bytes) instead of cuBLAS's own pool, so a call captured into a CUDA graph needs no
     * allocation of its own. {@link #setStream} resets it: set the stream first.
     */
    public static void setWorkspace(MemorySegment handle, MemorySegment workspace, long byteSize) {
        check(invoke(() -> (int) SetWorkspace.H.invokeExact(handle, workspace, byteSize)), "cublasSetWorkspace_v2");
    }

    /**
     * {@code cublasGemmEx} (column-major) with F32 {@code alpha}, {@code beta} and accumulation:
     * {@code C = alpha·op(A)·op(B) + beta·C}.
     */
    public static void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha,
            MemorySegment a, int typeA, int lda, MemorySegment b, int typeB, int ldb, float beta, MemorySegment c,
            int typeC, int ldc) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphaValue = arena.allocateFrom(JAVA_FLOAT, alpha);
            MemorySegment betaValue = arena.allocateFrom(JAVA_FLOAT, beta);
            check(invoke(() -> (int) GemmEx.H.invokeExact(handle, transA, transB, m, n, k, alphaValue, a, typeA,
                    lda, b, typeB, ldb, betaValue, c, typeC, ldc, COMPUTE_32F, GEMM_DEFAULT)), "cublasGemmEx");
        }
    }

    /**
     * {@code cublasGemmStridedBatchedEx} (column-major): {@code batchCount} GEMMs whose operands are
     * {@code stride*} elements apart (a stride of 0 reuses one matrix for every batch).
     */
    public static void gemmStridedBatchedEx(MemorySegment handle, int transA, int transB, int m, int n, int k,
            float alpha, MemorySegment a, int typeA, int lda, long strideA, MemorySegment b, int typeB, int ldb,
            long strideB, float beta, MemorySegment c, int typeC, int ldc, long strideC, int batchCount) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphaValue = arena.allocateFrom(JAVA_FLOAT, alpha);
            MemorySegment betaValue = arena.allocateFrom(JAVA_FLOAT, beta);
            check(invoke(() -> (int) GemmStridedBatchedEx.H.invokeExact(handle, transA, transB, m, n, k, alphaValue,
                    a, typeA, lda, strideA, b, typeB, ldb, strideB, betaValue, c, typeC, ldc, strideC, batchCount,
                    COMPUTE_32F, GEMM_DEFAULT)), "cublasGemmStridedBatchedEx");
        }
    }
}
