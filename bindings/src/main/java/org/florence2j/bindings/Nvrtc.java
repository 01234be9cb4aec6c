package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.florence2j.bindings.Downcalls.invoke;
import static org.florence2j.bindings.Downcalls.invokeValue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * NVRTC ({@code libnvrtc}): compiles CUDA C source to a CUBIN for the device at hand, at run time.
 */
public final class Nvrtc {
    private static final int SUCCESS = 0;

    private static final NativeLibrary LIB =
            CudaLibraries.find("NVRTC", List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"), "nvrtc");

    static {
        // libnvrtc dlopens libnvrtc-builtins.so.<major>.<minor> on its first compile, by soname.
        CudaLibraries.preloadSibling(LIB, "libnvrtc-builtins.so");
    }

    private Nvrtc() {}

    private static MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        return LIB.lateFailingDowncall(symbol, descriptor);
    }

    /** The library as found; {@link NativeLibrary#failure()} says why it is missing. */
    public static NativeLibrary library() {
        return LIB;
    }

    private static final class GetErrorString {
        // const char* nvrtcGetErrorString(nvrtcResult result)
        static final MethodHandle H = downcall("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static final class Version {
        // nvrtcResult nvrtcVersion(int* major, int* minor)
        static final MethodHandle H = downcall("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class CreateProgram {
        // nvrtcResult nvrtcCreateProgram(nvrtcProgram* prog, const char* src, const char* name, int numHeaders,
        //     const char* const* headers, const char* const* includeNames)
        static final MethodHandle H = downcall("nvrtcCreateProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class DestroyProgram {
        // nvrtcResult nvrtcDestroyProgram(nvrtcProgram* prog)
        static final MethodHandle H = downcall("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static final class CompileProgram {
        // nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char* const* options)
        static final MethodHandle H = downcall("nvrtcCompileProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    }

    private static final class GetProgramLogSize {
        // nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t* logSizeRet)
        static final MethodHandle H = downcall("nvrtcGetProgramLogSize",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class GetProgramLog {
        // nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char* log)
        static final MethodHandle H = downcall("nvrtcGetProgramLog",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class GetCubinSize {
        // nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t* cubinSizeRet)
        static final MethodHandle H = downcall("nvrtcGetCUBINSize",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class GetCubin {
        // nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char* cubin)
        static final MethodHandle H = downcall("nvrtcGetCUBIN", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /** NVRTC's name for a status, e.g. {@code "NVRTC_ERROR_COMPILATION"}. */
    public static String getErrorString(int status) {
        return CudaLibraries.string(invokeValue(() -> (MemorySegment) GetErrorString.H.invokeExact(status)),
                "nvrtcResult " + status);
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is {@code NVRTC_SUCCESS}. */
    public static void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, getErrorString(status));
        }
    }

    /** {@code nvrtcVersion}: {@code {major, minor}}. */
    public static int[] version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT);
            MemorySegment minor = arena.allocate(JAVA_INT);
            check(invoke(() -> (int) Version.H.invokeExact(major, minor)), "nvrtcVersion");
            return new int[] {major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0)};
        }
    }

    /**
     * Compiles one CUDA C translation unit (no extra headers) to a CUBIN.
     *
     * @param source  the CUDA C source
     * @param name    the file name used in diagnostics
     * @param options NVRTC options, e.g. {@code --gpu-architecture=sm_90}
     * @throws CudaException carrying the compile log when compilation fails
     */
    public static byte[] compileToCubin(String source, String name, List<String> options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment programOut = arena.allocate(ADDRESS);
            MemorySegment cSource = arena.allocateFrom(source);
            MemorySegment cName = arena.allocateFrom(name);
            check(invoke(() -> (int) CreateProgram.H.invokeExact(programOut, cSource, cName, 0, MemorySegment.NULL,
                    MemorySegment.NULL)), "nvrtcCreateProgram");
            MemorySegment program = programOut.get(ADDRESS, 0);
            try {
                MemorySegment optionArray = arena.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) {
                    optionArray.setAtIndex(ADDRESS, i, arena.allocateFrom(options.get(i)));
                }
                int status = invoke(() -> (int) CompileProgram.H.invokeExact(program, options.size(), optionArray));
                if (status != SUCCESS) {
                    throw new CudaException("nvrtcCompileProgram(" + name + ", " + options + ")", status,
                            getErrorString(status), programLog(program, arena));
                }
                MemorySegment size = arena.allocate(JAVA_LONG);
                check(invoke(() -> (int) GetCubinSize.H.invokeExact(program, size)), "nvrtcGetCUBINSize");
                MemorySegment cubin = arena.allocate(size.get(JAVA_LONG, 0));
                check(invoke(() -> (int) GetCubin.H.invokeExact(program, cubin)), "nvrtcGetCUBIN");
                return cubin.toArray(JAVA_BYTE);
            } finally {
                // Destroying is best effort: a failure here would only hide the compile error above.
                invoke(() -> (int) DestroyProgram.H.invokeExact(programOut));
            }
        }
    }

    private static String programLog(MemorySegment program, Arena arena) {
        MemorySegment size = arena.allocate(JAVA_LONG);
        if (invoke(() -> (int) GetProgramLogSize.H.invokeExact(program, size)) != SUCCESS) {
            return "";
        }
        MemorySegment log = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        if (invoke(() -> (int) GetProgramLog.H.invokeExact(program, log)) != SUCCESS) {
            return "";
        }
        return log.getString(0);
    }
}
