package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.florence2j.bindings.Downcalls.invoke;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The CUDA driver API ({@code libcuda}, installed with the NVIDIA driver): the device's primary context, loading
 * compiled kernels and launching them. The runtime API cannot load a CUBIN made at run time, hence this class.
 */
public final class CudaDriver {
    private static final Logger LOG = Logger.getLogger(CudaDriver.class.getName());
    private static final int SUCCESS = 0;

    private static final NativeLibrary LIB =
            CudaLibraries.find("CUDA driver", List.of("libcuda.so.1", "libcuda.so"), "cuda.driver");

    private CudaDriver() {}

    private static MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        return LIB.lateFailingDowncall(symbol, descriptor);
    }

    /** The library as found; {@link NativeLibrary#failure()} says why it is missing. */
    public static NativeLibrary library() {
        return LIB;
    }

    private static final class GetErrorName {
        // CUresult cuGetErrorName(CUresult error, const char** pStr)
        static final MethodHandle H = downcall("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                ADDRESS));
    }

    private static final class Init {
        // CUresult cuInit(unsigned int Flags)
        static final MethodHandle H = downcall("cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class DeviceGet {
        // CUresult cuDeviceGet(CUdevice* device, int ordinal)
        static final MethodHandle H = downcall("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class PrimaryCtxRetain {
        // CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev)
        static final MethodHandle H = downcall("cuDevicePrimaryCtxRetain",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class PrimaryCtxRelease {
        // CUresult cuDevicePrimaryCtxRelease(CUdevice dev); cuda.h maps it to the _v2 symbol since CUDA 11.
        static final MethodHandle H = downcall("cuDevicePrimaryCtxRelease_v2",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class CtxSetCurrent {
        // CUresult cuCtxSetCurrent(CUcontext ctx)
        static final MethodHandle H = downcall("cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class ModuleLoadData {
        // CUresult cuModuleLoadData(CUmodule* module, const void* image)
        static final MethodHandle H = downcall("cuModuleLoadData",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class ModuleUnload {
        // CUresult cuModuleUnload(CUmodule hmod)
        static final MethodHandle H = downcall("cuModuleUnload", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class ModuleGetFunction {
        // CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name)
        static final MethodHandle H = downcall("cuModuleGetFunction",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    private static final class LaunchKernel {
        // CUresult cuLaunchKernel(CUfunction f, unsigned gridDimX, unsigned gridDimY, unsigned gridDimZ,
        //     unsigned blockDimX, unsigned blockDimY, unsigned blockDimZ, unsigned sharedMemBytes,
        //     CUstream hStream, void** kernelParams, void** extra)
        static final MethodHandle H = downcall("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    /** The driver's name for a status, e.g. {@code "CUDA_ERROR_NO_DEVICE"}. */
    public static String getErrorName(int status) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocate(ADDRESS);
            int result = invoke(() -> (int) GetErrorName.H.invokeExact(status, name));
            return result == SUCCESS ? CudaLibraries.string(name.get(ADDRESS, 0), "CUresult " + status)
                    : "CUresult " + status;
        }
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is {@code CUDA_SUCCESS}. */
    public static void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, getErrorName(status));
        }
    }

    /** {@code cuInit(0)}; idempotent. */
    public static void init() {
        check(invoke(() -> (int) Init.H.invokeExact(0)), "cuInit");
    }

    /** {@code cuDeviceGet}: the driver's handle for device {@code ordinal}. */
    public static int deviceGet(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment device = arena.allocate(JAVA_INT);
            check(invoke(() -> (int) DeviceGet.H.invokeExact(device, ordinal)), "cuDeviceGet");
            return device.get(JAVA_INT, 0);
        }
    }

    /**
     * {@code cuDevicePrimaryCtxRetain}: the device's primary context (the one the runtime API uses), released
     * when {@code owner} closes.
     */
    public static MemorySegment primaryCtxRetain(int device, Arena owner) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) PrimaryCtxRetain.H.invokeExact(out, device)), "cuDevicePrimaryCtxRetain");
            return out.get(ADDRESS, 0).reinterpret(0, owner, context -> {
                int status = invoke(() -> (int) PrimaryCtxRelease.H.invokeExact(device));
                if (status != SUCCESS) {
                    LOG.log(Level.WARNING, "cuDevicePrimaryCtxRelease failed: {0}", getErrorName(status));
                }
            });
        }
    }

    /** {@code cuCtxSetCurrent}: binds {@code context} to the calling thread. */
    public static void ctxSetCurrent(MemorySegment context) {
        check(invoke(() -> (int) CtxSetCurrent.H.invokeExact(context)), "cuCtxSetCurrent");
    }

    /** {@code cuModuleLoadData} of a CUBIN or PTX image; the module is unloaded when {@code owner} closes. */
    public static MemorySegment moduleLoadData(MemorySegment image, Arena owner) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(invoke(() -> (int) ModuleLoadData.H.invokeExact(out, image)), "cuModuleLoadData");
            return out.get(ADDRESS, 0).reinterpret(0, owner, module -> {
                int status = invoke(() -> (int) ModuleUnload.H.invokeExact(module));
                if (status != SUCCESS) {
                    LOG.log(Level.WARNING, "cuModuleUnload failed: {0}", getErrorName(status));
                }
            });
        }
    }

    /** {@code cuModuleGetFunction}: the kernel {@code name} (an {@code extern "C"} name) of {@code module}. */
    public static MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment cName = arena.allocateFrom(name);
            check(invoke(() -> (int) ModuleGetFunction.H.invokeExact(out, module, cName)),
                    "cuModuleGetFunction(" + name + ")");
            return out.get(ADDRESS, 0);
        }
    }

    /**
     * {@code cuLaunchKernel} with a one-dimensional block and a two-dimensional grid.
     *
     * @param kernelParams an array of pointers, one per kernel parameter, each to that parameter's value
     */
    public static void launchKernel(MemorySegment function, int gridX, int gridY, int blockX, int sharedBytes,
            MemorySegment stream, MemorySegment kernelParams) {
        check(invoke(() -> (int) LaunchKernel.H.invokeExact(function, gridX, gridY, 1, blockX, 1, 1, sharedBytes,
                stream, kernelParams, MemorySegment.NULL)), "cuLaunchKernel");
    }
}
