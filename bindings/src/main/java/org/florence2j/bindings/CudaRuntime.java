package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
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
 * The CUDA runtime API ({@code libcudart}): devices, device memory, copies, streams, and CUDA graphs made by stream
 * capture.
 *
 * <p>Device pointers are {@link MemorySegment}s whose address is the device address; Java never dereferences
 * them. {@link #malloc} ties each allocation to an {@link Arena}, so device memory is freed when its owner closes.
 * Every status goes through {@link #check}.
 */
public final class CudaRuntime {
    /** {@code cudaMemcpyKind}: host to device. */
    public static final int HOST_TO_DEVICE = 1;
    /** {@code cudaMemcpyKind}: device to host. */
    public static final int DEVICE_TO_HOST = 2;
    /** {@code cudaMemcpyKind}: device to device. */
    public static final int DEVICE_TO_DEVICE = 3;
    /** {@code cudaErrorInvalidDevice}: no such device ordinal. */
    public static final int ERROR_INVALID_DEVICE = 101;
    /** {@code cudaDevAttrComputeCapabilityMajor}. */
    public static final int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    /** {@code cudaDevAttrComputeCapabilityMinor}. */
    public static final int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    /**
     * {@code cudaStreamCaptureModeThreadLocal}: while this thread captures, its own potentially unsafe calls (such as
     * {@code cudaMalloc} or a synchronisation) fail instead of silently escaping the graph; other threads are not
     * restricted.
     */
    public static final int CAPTURE_MODE_THREAD_LOCAL = 1;

    private static final Logger LOG = Logger.getLogger(CudaRuntime.class.getName());
    private static final int SUCCESS = 0;
    // cudaStreamDefault: the stream waits for the legacy default stream, where malloc's cudaMemset runs, so a
    // freshly zeroed buffer is zero before the first kernel reads it.
    private static final int STREAM_DEFAULT = 0;

    private static final NativeLibrary LIB =
            CudaLibraries.find("CUDA runtime", List.of("libcudart.so.13", "libcudart.so.12", "libcudart.so"), "cudart");

    private CudaRuntime() {}

    private static MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        return LIB.lateFailingDowncall(symbol, descriptor);
    }

    /** The library as found; {@link NativeLibrary#failure()} says why it is missing. */
    public static NativeLibrary library() {
        return LIB;
    }

    private static final class GetErrorName {
        // const char* cudaGetErrorName(cudaError_t error)
        static final MethodHandle H = downcall("cudaGetErrorName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static final class GetDeviceCount {
        // cudaError_t cudaGetDeviceCount(int* count)
        static final MethodHandle H = downcall("cudaGetDeviceCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class SetDevice {
        // cudaError_t cudaSetDevice(int device)
        static final MethodHandle H = downcall("cudaSetDevice", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class DeviceGetAttribute {
        // cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device)
        static final MethodHandle H = downcall("cudaDeviceGetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }

    private static final class Malloc {
        // cudaError_t cudaMalloc(void** devPtr, size_t size)
        static final MethodHandle H = downcall("cudaMalloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class GetLastError {
        // cudaError_t cudaGetLastError(void): returns the calling thread's last error and resets it
        static final MethodHandle H = downcall("cudaGetLastError", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Free {
        // cudaError_t cudaFree(void* devPtr)
        static final MethodHandle H = downcall("cudaFree", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class Memset {
        // cudaError_t cudaMemset(void* devPtr, int value, size_t count)
        static final MethodHandle H =
                downcall("cudaMemset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    }

    private static final class MemcpyAsync {
        // cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
        //                             cudaStream_t stream)
        static final MethodHandle H = downcall("cudaMemcpyAsync",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
    }

    private static final class Memcpy2DAsync {
        // cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
        //                               size_t height, cudaMemcpyKind kind, cudaStream_t stream)
        static final MethodHandle H = downcall("cudaMemcpy2DAsync", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS));
    }

    private static final class StreamCreateWithFlags {
        // cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags)
        static final MethodHandle H = downcall("cudaStreamCreateWithFlags",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class StreamDestroy {
        // cudaError_t cudaStreamDestroy(cudaStream_t stream)
        static final MethodHandle H = downcall("cudaStreamDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class StreamSynchronize {
        // cudaError_t cudaStreamSynchronize(cudaStream_t stream)
        static final MethodHandle H =
                downcall("cudaStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class StreamBeginCapture {
        // cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode)
        static final MethodHandle H =
                downcall("cudaStreamBeginCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class StreamEndCapture {
        // cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph)
        static final MethodHandle H =
                downcall("cudaStreamEndCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class GraphDestroy {
        // cudaError_t cudaGraphDestroy(cudaGraph_t graph)
        static final MethodHandle H = downcall("cudaGraphDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class GraphInstantiateWithFlags {
        // cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* pGraphExec, cudaGraph_t graph,
        //                                           unsigned long long flags)
        static final MethodHandle H = downcall("cudaGraphInstantiateWithFlags",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    }

    private static final class GraphExecDestroy {
        // cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec)
        static final MethodHandle H = downcall("cudaGraphExecDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class GraphLaunch {
        // cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
        static final MethodHandle H =
                downcall("cudaGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class MemGetInfo {
        // cudaError_t cudaMemGetInfo(size_t* free, size_t* total)
        static final MethodHandle H =
                downcall("cudaMemGetInfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /** The runtime's name for a status, e.g. {@code "cudaErrorNoDevice"}. */
    public static String getErrorName(int status) {
        return CudaLibraries.string(invokeValue(() -> (MemorySegment) GetErrorName.H.invokeExact(status)),
                "cudaError " + status);
    }

    /**
     * Throws {@link CudaException} naming {@code call} unless {@code status} is {@code cudaSuccess}.
     */
    public static void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, getErrorName(status));
        }
    }

    /** {@code cudaGetDeviceCount}: the number of visible CUDA devices. */
    public static int getDeviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            check(invoke(() -> (int) GetDeviceCount.H.invokeExact(count)), "cudaGetDeviceCount");
            return count.get(JAVA_INT, 0);
        }
    }

    /** {@code cudaSetDevice}: makes {@code device} current on the calling thread. */
    public static void setDevice(int device) {
        check(invoke(() -> (int) SetDevice.H.invokeExact(device)), "cudaSetDevice");
    }

    /** {@code cudaDeviceGetAttribute}. */
    public static int deviceGetAttribute(int attribute, int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            check(invoke(() -> (int) DeviceGetAttribute.H.invokeExact(value, attribute, device)),
                    "cudaDeviceGetAttribute");
            return value.get(JAVA_INT, 0);
        }
    }

    /**
     * {@code cudaMalloc} of {@code byteSize} bytes, zeroed, freed with {@code cudaFree} when {@code owner} closes.
     * The returned segment's address is the device pointer; it must never be dereferenced from Java.
     */
    public static MemorySegment malloc(long byteSize, Arena owner) {
        MemorySegment pointer;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int status = invoke(() -> (int) Malloc.H.invokeExact(out, byteSize));
            if (status != SUCCESS) {
                // A failed cudaMalloc is also left as the runtime's last error, which code after it may read as its
                // own (a library checking its kernel launches): callers recover from running out of memory, so it is
                // cleared, as PyTorch's caching allocator clears it.
                invoke(() -> (int) GetLastError.H.invokeExact());
            }
            check(status, "cudaMalloc(" + byteSize + " bytes)");
            pointer = out.get(ADDRESS, 0);
        }
        try {
            check(invoke(() -> (int) Memset.H.invokeExact(pointer, 0, byteSize)), "cudaMemset");
            return pointer.reinterpret(byteSize, owner, CudaRuntime::freeQuietly);
        } catch (RuntimeException e) {
            freeQuietly(pointer);
            throw e;
        }
    }

    /**
     * {@code cudaFree}, logging instead of throwing: it runs as an arena's cleanup action, where an exception
     * would be lost. It synchronises the device, so no queued kernel still uses the memory.
     */
    public static void freeQuietly(MemorySegment devicePointer) {
        int status = invoke(() -> (int) Free.H.invokeExact(devicePointer));
        if (status != SUCCESS) {
            LOG.log(Level.WARNING, "cudaFree(0x{0}) failed: {1}",
                    new Object[] {Long.toHexString(devicePointer.address()), getErrorName(status)});
        }
    }

    /** {@code cudaMemcpyAsync} of {@code byteSize} bytes on {@code stream}. */
    public static void memcpyAsync(MemorySegment dst, MemorySegment src, long byteSize, int kind,
            MemorySegment stream) {
        check(invoke(() -> (int) MemcpyAsync.H.invokeExact(dst, src, byteSize, kind, stream)), "cudaMemcpyAsync");
    }

    /**
     * {@code cudaMemcpy2DAsync}: {@code height} rows of {@code widthBytes} bytes, rows {@code dstPitch} and
     * {@code srcPitch} bytes apart.
     */
    public static void memcpy2DAsync(MemorySegment dst, long dstPitch, MemorySegment src, long srcPitch,
            long widthBytes, long height, int kind, MemorySegment stream) {
        check(invoke(() -> (int) Memcpy2DAsync.H.invokeExact(dst, dstPitch, src, srcPitch, widthBytes, height, kind,
                stream)), "cudaMemcpy2DAsync");
    }

    /** {@code cudaStreamCreateWithFlags(cudaStreamDefault)}, destroyed when {@code owner} closes. */
    public static MemorySegment streamCreate(Arena owner) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) StreamCreateWithFlags.H.invokeExact(out, STREAM_DEFAULT)),
                    "cudaStreamCreateWithFlags");
            return out.get(ADDRESS, 0).reinterpret(0, owner, CudaRuntime::streamDestroyQuietly);
        }
    }

    private static void streamDestroyQuietly(MemorySegment stream) {
        int status = invoke(() -> (int) StreamDestroy.H.invokeExact(stream));
        if (status != SUCCESS) {
            LOG.log(Level.WARNING, "cudaStreamDestroy failed: {0}", getErrorName(status));
        }
    }

    /** {@code cudaStreamSynchronize}: waits for everything queued on {@code stream}. */
    public static void streamSynchronize(MemorySegment stream) {
        check(invoke(() -> (int) StreamSynchronize.H.invokeExact(stream)), "cudaStreamSynchronize");
    }

    /**
     * {@code cudaStreamBeginCapture}: from now on, work queued on {@code stream} is recorded into a graph instead of
     * running, until {@link #streamEndCapture}.
     *
     * @param mode a {@code cudaStreamCaptureMode}, e.g. {@link #CAPTURE_MODE_THREAD_LOCAL}
     */
    public static void streamBeginCapture(MemorySegment stream, int mode) {
        check(invoke(() -> (int) StreamBeginCapture.H.invokeExact(stream, mode)), "cudaStreamBeginCapture");
    }

    /**
     * {@code cudaStreamEndCapture}: the graph recorded on {@code stream} since {@link #streamBeginCapture},
     * destroyed with {@code cudaGraphDestroy} when {@code owner} closes. The stream runs its work again either way;
     * a capture that an illegal call invalidated ends with a {@link CudaException}
     * ({@code cudaErrorStreamCaptureInvalidated}) and no graph.
     */
    public static MemorySegment streamEndCapture(MemorySegment stream, Arena owner) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) StreamEndCapture.H.invokeExact(stream, out)), "cudaStreamEndCapture");
            return out.get(ADDRESS, 0).reinterpret(0, owner, graph -> {
                int status = invoke(() -> (int) GraphDestroy.H.invokeExact(graph));
                if (status != SUCCESS) {
                    LOG.log(Level.WARNING, "cudaGraphDestroy failed: {0}", getErrorName(status));
                }
            });
        }
    }

    /**
     * {@code cudaGraphInstantiateWithFlags(graph, 0)}: an executable copy of {@code graph} (which may be destroyed
     * afterwards), destroyed with {@code cudaGraphExecDestroy} when {@code owner} closes.
     */
    public static MemorySegment graphInstantiate(MemorySegment graph, Arena owner) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) GraphInstantiateWithFlags.H.invokeExact(out, graph, 0L)),
                    "cudaGraphInstantiateWithFlags");
            return out.get(ADDRESS, 0).reinterpret(0, owner, exec -> {
                int status = invoke(() -> (int) GraphExecDestroy.H.invokeExact(exec));
                if (status != SUCCESS) {
                    LOG.log(Level.WARNING, "cudaGraphExecDestroy failed: {0}", getErrorName(status));
                }
            });
        }
    }

    /** {@code cudaGraphLaunch}: queues one run of the executable graph {@code exec} on {@code stream}. */
    public static void graphLaunch(MemorySegment exec, MemorySegment stream) {
        check(invoke(() -> (int) GraphLaunch.H.invokeExact(exec, stream)), "cudaGraphLaunch");
    }

    /** {@code cudaMemGetInfo} for the current device: {@code {freeBytes, totalBytes}}. */
    public static long[] memGetInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check(invoke(() -> (int) MemGetInfo.H.invokeExact(free, total)), "cudaMemGetInfo");
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        }
    }
}
