package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.florence2j.bindings.Downcalls.invoke;
import static org.florence2j.bindings.Downcalls.invokeValue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * cuDNN ({@code libcudnn}, major version 9, or 8 where 9 is absent): forward convolutions through the descriptor
 * API. Prototypes and enum values are those of cuDNN 9's {@code cudnn_graph.h} (handle, status, data types, math
 * types, tensor formats), {@code cudnn_ops.h} (tensor and filter descriptors) and {@code cudnn_cnn.h} (convolution
 * descriptors, algorithm heuristics, {@code cudnnConvolutionForward}); cuDNN 8 has the same functions with the
 * same prototypes in {@code cudnn_ops_infer.h} and {@code cudnn_cnn_infer.h}. cuDNN 9 marks the convolution
 * functions deprecated in favour of its graph API but still ships them.
 *
 * <p>Descriptors and the handle are native objects tied to an {@link Arena}: each {@code create*} registers the
 * matching {@code cudnnDestroy*} as the arena's cleanup, which logs instead of throwing. Every status goes through
 * {@link #check}.
 */
public final class Cudnn {
    /** {@code cudnnDataType_t} {@code CUDNN_DATA_FLOAT}. */
    public static final int DATA_FLOAT = 0;
    /** {@code cudnnTensorFormat_t} {@code CUDNN_TENSOR_NHWC}: {@code [n, h, w, c]}, c fastest. */
    public static final int TENSOR_NHWC = 1;
    /** {@code cudnnConvolutionMode_t} {@code CUDNN_CROSS_CORRELATION}: PyTorch's convolution (no filter flip). */
    public static final int CROSS_CORRELATION = 1;
    /** {@code cudnnMathType_t} {@code CUDNN_FMA_MATH}: FMA kernels only, so F32 never runs as TF32. */
    public static final int FMA_MATH = 3;
    /** The number of {@code cudnnConvolutionFwdAlgo_t} values ({@code CUDNN_CONVOLUTION_FWD_ALGO_COUNT}). */
    public static final int FORWARD_ALGORITHM_COUNT = 8;

    private static final Logger LOG = Logger.getLogger(Cudnn.class.getName());
    private static final int SUCCESS = 0;
    // cudnnConvolutionFwdAlgoPerf_t: {algo, status, time, (pad), memory, determinism, mathType, reserved[3], (pad)}.
    private static final StructLayout FORWARD_ALGORITHM_PERF = MemoryLayout.structLayout(
            JAVA_INT.withName("algo"), JAVA_INT.withName("status"), JAVA_FLOAT.withName("time"),
            MemoryLayout.paddingLayout(4), JAVA_LONG.withName("memory"), JAVA_INT.withName("determinism"),
            JAVA_INT.withName("mathType"), MemoryLayout.sequenceLayout(3, JAVA_INT).withName("reserved"),
            MemoryLayout.paddingLayout(4));
    private static final List<String> FILES = List.of("libcudnn.so.9", "libcudnn.so.8", "libcudnn.so");

    private static final NativeLibrary LIB = CudaLibraries.find("cuDNN", FILES, "cudnn",
            "cuDNN 9 for your CUDA version (NVIDIA's libcudnn9 packages, or the nvidia-cudnn-cu12 or -cu13 wheel)");

    static {
        // libcudnn is a shim that dlopens its sub-libraries by soname on first use; loading them now, in dependency
        // order and from the same folder, lets that succeed where the folder is not on the loader's path (pip's
        // nvidia/cudnn/lib). cuDNN 9 names them first, cuDNN 8 after; absent names are skipped.
        for (String subLibrary : List.of("libcudnn_graph.so", "libcudnn_engines_precompiled.so",
                "libcudnn_engines_runtime_compiled.so", "libcudnn_heuristic.so", "libcudnn_ops.so",
                "libcudnn_cnn.so", "libcudnn_ops_infer.so", "libcudnn_cnn_infer.so")) {
            CudaLibraries.preloadSibling(LIB, subLibrary);
        }
    }

    private Cudnn() {}

    private static MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        return LIB.lateFailingDowncall(symbol, descriptor);
    }

    /** The library as found; {@link NativeLibrary#failure()} says why it is missing. */
    public static NativeLibrary library() {
        return LIB;
    }

    /**
     * One entry of {@code cudnnGetConvolutionForwardAlgorithm_v7}'s answer ({@code cudnnConvolutionFwdAlgoPerf_t}).
     *
     * @param algorithm      the {@code cudnnConvolutionFwdAlgo_t}
     * @param status         whether cuDNN can run it for these descriptors ({@code 0}: it can)
     * @param workspaceBytes the workspace it asks for, in bytes
     * @param mathType       the {@code cudnnMathType_t} cuDNN rated it with
     */
    public record ForwardAlgorithm(int algorithm, int status, long workspaceBytes, int mathType) {
        /** Whether cuDNN reported this algorithm usable ({@code CUDNN_STATUS_SUCCESS}). */
        public boolean usable() {
            return status == SUCCESS;
        }
    }

    private static final class GetErrorString {
        // const char* cudnnGetErrorString(cudnnStatus_t status)
        static final MethodHandle H = downcall("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static final class GetVersion {
        // size_t cudnnGetVersion(void)
        static final MethodHandle H = downcall("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
    }

    private static final class Create {
        // cudnnStatus_t cudnnCreate(cudnnHandle_t* handle)
        static final MethodHandle H = downcall("cudnnCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class Destroy {
        // cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
        static final MethodHandle H = downcall("cudnnDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetStream {
        // cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
        static final MethodHandle H = downcall("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class CreateTensorDescriptor {
        // cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc)
        static final MethodHandle H = downcall("cudnnCreateTensorDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetTensor4dDescriptor {
        // cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
        //     cudnnDataType_t dataType, int n, int c, int h, int w)
        static final MethodHandle H = downcall("cudnnSetTensor4dDescriptor", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class DestroyTensorDescriptor {
        // cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
        static final MethodHandle H = downcall("cudnnDestroyTensorDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class CreateFilterDescriptor {
        // cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc)
        static final MethodHandle H = downcall("cudnnCreateFilterDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetFilter4dDescriptor {
        // cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
        //     cudnnTensorFormat_t format, int k, int c, int h, int w)
        static final MethodHandle H = downcall("cudnnSetFilter4dDescriptor", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class DestroyFilterDescriptor {
        // cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc)
        static final MethodHandle H = downcall("cudnnDestroyFilterDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class CreateConvolutionDescriptor {
        // cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc)
        static final MethodHandle H = downcall("cudnnCreateConvolutionDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetConvolution2dDescriptor {
        // cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h,
        //     int pad_w, int u, int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
        //     cudnnDataType_t computeType)
        static final MethodHandle H = downcall("cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class SetConvolutionGroupCount {
        // cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount)
        static final MethodHandle H = downcall("cudnnSetConvolutionGroupCount",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class SetConvolutionMathType {
        // cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
        //     cudnnMathType_t mathType)
        static final MethodHandle H = downcall("cudnnSetConvolutionMathType",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class DestroyConvolutionDescriptor {
        // cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc)
        static final MethodHandle H = downcall("cudnnDestroyConvolutionDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class GetConvolutionForwardAlgorithmV7 {
        // cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle,
        //     const cudnnTensorDescriptor_t srcDesc, const cudnnFilterDescriptor_t filterDesc,
        //     const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc,
        //     const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults)
        static final MethodHandle H = downcall("cudnnGetConvolutionForwardAlgorithm_v7", FunctionDescriptor.of(
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class GetConvolutionForwardWorkspaceSize {
        // cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle,
        //     const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
        //     const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
        //     cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes)
        static final MethodHandle H = downcall("cudnnGetConvolutionForwardWorkspaceSize", FunctionDescriptor.of(
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    }

    private static final class ConvolutionForward {
        // cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
        //     const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnFilterDescriptor_t wDesc,
        //     const void* w, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
        //     void* workSpace, size_t workSpaceSizeInBytes, const void* beta, const cudnnTensorDescriptor_t yDesc,
        //     void* y)
        static final MethodHandle H = downcall("cudnnConvolutionForward", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG,
                ADDRESS, ADDRESS, ADDRESS));
    }

    /** cuDNN's text for a status, e.g. {@code "CUDNN_STATUS_NOT_SUPPORTED"}. */
    public static String getErrorString(int status) {
        return CudaLibraries.string(invokeValue(() -> (MemorySegment) GetErrorString.H.invokeExact(status)),
                "cudnnStatus " + status);
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is {@code CUDNN_STATUS_SUCCESS}. */
    public static void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, getErrorString(status));
        }
    }

    /**
     * {@code cudnnGetVersion}: the library's version number ({@code major·10000 + minor·100 + patch} from cuDNN 9,
     * {@code major·1000 + minor·100 + patch} before).
     */
    public static long getVersion() {
        return invokeValue(() -> (long) GetVersion.H.invokeExact());
    }

    /** {@code cudnnCreate} on the current device; destroyed when {@code owner} closes. */
    public static MemorySegment create(Arena owner) {
        return createObject(Create.H, "cudnnCreate", owner, handle -> destroyQuietly(
                invoke(() -> (int) Destroy.H.invokeExact(handle)), "cudnnDestroy"));
    }

    /** {@code cudnnSetStream}: later calls on {@code handle} queue on {@code stream}. */
    public static void setStream(MemorySegment handle, MemorySegment stream) {
        check(invoke(() -> (int) SetStream.H.invokeExact(handle, stream)), "cudnnSetStream");
    }

    /** {@code cudnnCreateTensorDescriptor}; destroyed when {@code owner} closes. */
    public static MemorySegment createTensorDescriptor(Arena owner) {
        return createObject(CreateTensorDescriptor.H, "cudnnCreateTensorDescriptor", owner,
                descriptor -> destroyQuietly(invoke(() -> (int) DestroyTensorDescriptor.H.invokeExact(descriptor)),
                        "cudnnDestroyTensorDescriptor"));
    }

    /**
     * {@code cudnnSetTensor4dDescriptor}: a fully packed 4-D tensor; the sizes are always given as
     * {@code n, c, h, w} whatever the memory {@code format} (e.g. {@link #TENSOR_NHWC}).
     */
    public static void setTensor4dDescriptor(MemorySegment descriptor, int format, int dataType, int n, int c,
            int h, int w) {
        check(invoke(() -> (int) SetTensor4dDescriptor.H.invokeExact(descriptor, format, dataType, n, c, h, w)),
                "cudnnSetTensor4dDescriptor");
    }

    /** {@code cudnnCreateFilterDescriptor}; destroyed when {@code owner} closes. */
    public static MemorySegment createFilterDescriptor(Arena owner) {
        return createObject(CreateFilterDescriptor.H, "cudnnCreateFilterDescriptor", owner,
                descriptor -> destroyQuietly(invoke(() -> (int) DestroyFilterDescriptor.H.invokeExact(descriptor)),
                        "cudnnDestroyFilterDescriptor"));
    }

    /**
     * {@code cudnnSetFilter4dDescriptor}: {@code k} output channels, {@code c} input channels per group, an
     * {@code h × w} kernel, laid out as {@code format} ({@link #TENSOR_NHWC}: {@code [k, h, w, c]}).
     */
    public static void setFilter4dDescriptor(MemorySegment descriptor, int dataType, int format, int k, int c, int h,
            int w) {
        check(invoke(() -> (int) SetFilter4dDescriptor.H.invokeExact(descriptor, dataType, format, k, c, h, w)),
                "cudnnSetFilter4dDescriptor");
    }

    /** {@code cudnnCreateConvolutionDescriptor}; destroyed when {@code owner} closes. */
    public static MemorySegment createConvolutionDescriptor(Arena owner) {
        return createObject(CreateConvolutionDescriptor.H, "cudnnCreateConvolutionDescriptor", owner,
                descriptor -> destroyQuietly(
                        invoke(() -> (int) DestroyConvolutionDescriptor.H.invokeExact(descriptor)),
                        "cudnnDestroyConvolutionDescriptor"));
    }

    /** {@code cudnnSetConvolution2dDescriptor}. */
    public static void setConvolution2dDescriptor(MemorySegment descriptor, int padH, int padW, int strideH,
            int strideW, int dilationH, int dilationW, int mode, int computeType) {
        check(invoke(() -> (int) SetConvolution2dDescriptor.H.invokeExact(descriptor, padH, padW, strideH, strideW,
                dilationH, dilationW, mode, computeType)), "cudnnSetConvolution2dDescriptor");
    }

    /** {@code cudnnSetConvolutionGroupCount}: {@code groups} channel groups (as many as input channels: depthwise). */
    public static void setConvolutionGroupCount(MemorySegment descriptor, int groups) {
        check(invoke(() -> (int) SetConvolutionGroupCount.H.invokeExact(descriptor, groups)),
                "cudnnSetConvolutionGroupCount");
    }

    /** {@code cudnnSetConvolutionMathType}. */
    public static void setConvolutionMathType(MemorySegment descriptor, int mathType) {
        check(invoke(() -> (int) SetConvolutionMathType.H.invokeExact(descriptor, mathType)),
                "cudnnSetConvolutionMathType");
    }

    /**
     * {@code cudnnGetConvolutionForwardAlgorithm_v7}: cuDNN's heuristic ranking of forward algorithms for these
     * descriptors, expected fastest first (nothing is run). Entries cuDNN cannot run carry a failure status.
     */
    public static List<ForwardAlgorithm> getConvolutionForwardAlgorithm(MemorySegment handle, MemorySegment x,
            MemorySegment filter, MemorySegment convolution, MemorySegment y) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment returned = arena.allocate(JAVA_INT);
            MemorySegment results = arena.allocate(FORWARD_ALGORITHM_PERF, FORWARD_ALGORITHM_COUNT);
            check(invoke(() -> (int) GetConvolutionForwardAlgorithmV7.H.invokeExact(handle, x, filter, convolution,
                    y, FORWARD_ALGORITHM_COUNT, returned, results)), "cudnnGetConvolutionForwardAlgorithm_v7");
            List<ForwardAlgorithm> algorithms = new ArrayList<>();
            long stride = FORWARD_ALGORITHM_PERF.byteSize();
            for (int i = 0; i < Math.min(returned.get(JAVA_INT, 0), FORWARD_ALGORITHM_COUNT); i++) {
                MemorySegment entry = results.asSlice(i * stride, stride);
                algorithms.add(new ForwardAlgorithm(
                        entry.get(JAVA_INT, FORWARD_ALGORITHM_PERF.byteOffset(groupElement("algo"))),
                        entry.get(JAVA_INT, FORWARD_ALGORITHM_PERF.byteOffset(groupElement("status"))),
                        entry.get(JAVA_LONG, FORWARD_ALGORITHM_PERF.byteOffset(groupElement("memory"))),
                        entry.get(JAVA_INT, FORWARD_ALGORITHM_PERF.byteOffset(groupElement("mathType")))));
            }
            return algorithms;
        }
    }

    /**
     * {@code cudnnGetConvolutionForwardWorkspaceSize}: the workspace {@code algorithm} needs with these descriptors
     * (as they are now, math type included), in bytes.
     *
     * @throws CudaException if cuDNN cannot run {@code algorithm} with them
     */
    public static long getConvolutionForwardWorkspaceSize(MemorySegment handle, MemorySegment x,
            MemorySegment filter, MemorySegment convolution, MemorySegment y, int algorithm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_LONG);
            check(invoke(() -> (int) GetConvolutionForwardWorkspaceSize.H.invokeExact(handle, x, filter, convolution,
                    y, algorithm, size)), "cudnnGetConvolutionForwardWorkspaceSize");
            return size.get(JAVA_LONG, 0);
        }
    }

    /**
     * {@code cudnnConvolutionForward} with F32 scaling factors: {@code y = alpha·conv(x, w) + beta·y}, queued on
     * the handle's stream. {@code workspace} holds at least what
     * {@link #getConvolutionForwardWorkspaceSize} asked for.
     */
    public static void convolutionForward(MemorySegment handle, float alpha, MemorySegment xDescriptor,
            MemorySegment x, MemorySegment filterDescriptor, MemorySegment filter, MemorySegment convolution,
            int algorithm, MemorySegment workspace, float beta, MemorySegment yDescriptor, MemorySegment y) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphaValue = arena.allocateFrom(JAVA_FLOAT, alpha);
            MemorySegment betaValue = arena.allocateFrom(JAVA_FLOAT, beta);
            long workspaceBytes = workspace.byteSize();
            check(invoke(() -> (int) ConvolutionForward.H.invokeExact(handle, alphaValue, xDescriptor, x,
                    filterDescriptor, filter, convolution, algorithm, workspace, workspaceBytes, betaValue,
                    yDescriptor, y)), "cudnnConvolutionForward");
        }
    }

    private static MemoryLayout.PathElement groupElement(String name) {
        return MemoryLayout.PathElement.groupElement(name);
    }

    /**
     * Calls a {@code cudnnCreate*(T* out)} function and ties the object it made to {@code owner}, whose closing
     * runs {@code destroy} on it.
     */
    private static MemorySegment createObject(MethodHandle create, String call, Arena owner,
            Consumer<MemorySegment> destroy) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) create.invokeExact(out)), call);
            return out.get(ADDRESS, 0).reinterpret(0, owner, destroy);
        }
    }

    /** Logs a failed destroy: it runs as an arena's cleanup action, where an exception would be lost. */
    private static void destroyQuietly(int status, String call) {
        if (status != SUCCESS) {
            LOG.log(Level.WARNING, "{0} failed: {1}", new Object[] {call, getErrorString(status)});
        }
    }
}
