package org.florence2j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.florence2j.bindings.Downcalls.rethrow;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.invoke.MethodHandle;

/**
 * oneDNN's C API ({@code oneapi/dnnl/dnnl.h}, version 3.13) through Panama downcalls: the functions florence2j's
 * CPU kernels use, and libgomp's thread-count control and parallel regions.
 *
 * <p>Each function has a holder class whose static final handle is made on first use (the jextract idiom), so
 * loading this class never touches the native library; the first call on a machine without oneDNN throws
 * {@link NativeLibraryException} naming every place searched (see {@link DnnlLibrary}). Every status goes through
 * {@link #check}, which turns a failure into a {@link DnnlException}.
 *
 * <p>Handles ({@code dnnl_engine_t}, {@code dnnl_memory_desc_t}, …) are zero-length {@link MemorySegment}s; the
 * caller owns them and destroys each with the matching {@code …Destroy}. The {@code create} functions allocate
 * their out-pointers and dims arrays in a short confined arena: they run when a primitive is built, never per op.
 */
public final class Dnnl {
    /** {@code dnnl_engine_kind_t}. */
    public static final int ENGINE_CPU = 1;
    /** {@code dnnl_stream_default_flags} (in order). */
    public static final int STREAM_DEFAULT_FLAGS = 1;

    /** {@code dnnl_data_type_undef}: "the destination's type" where a call allows it. */
    public static final int DATA_TYPE_UNDEF = 0;
    /** {@code dnnl_data_type_t}. */
    public static final int DATA_TYPE_F16 = 1;
    public static final int DATA_TYPE_BF16 = 2;
    public static final int DATA_TYPE_F32 = 3;
    public static final int DATA_TYPE_S32 = 4;

    /** {@code dnnl_format_tag_any}: the primitive picks the layout. */
    public static final int FORMAT_TAG_ANY = 1;

    /** {@code dnnl_prop_kind_t}. */
    public static final int FORWARD_INFERENCE = 96;

    /** {@code dnnl_alg_kind_t}. */
    public static final int CONVOLUTION_DIRECT = 0x1;
    public static final int ELTWISE_LINEAR = 0x26;
    public static final int ELTWISE_GELU_ERF = 0x31;
    public static final int BINARY_ADD = 0x1fff0;
    public static final int SOFTMAX_ACCURATE = 0x30000;
    public static final int REDUCTION_SUM = 0x2fff4;

    /** {@code dnnl_normalization_flags_t}. */
    public static final int USE_SCALE = 0x2;
    public static final int USE_SHIFT = 0x4;

    /** {@code dnnl_scratchpad_mode_t}: the caller passes scratch memory at execution. */
    public static final int SCRATCHPAD_MODE_USER = 1;

    /**
     * {@code dnnl_fpmath_mode_t}: how far f32 primitives may lower their math ({@code bf16}: inputs rounded to bf16,
     * products accumulated in f32).
     */
    public static final int FPMATH_MODE_STRICT = 0;
    public static final int FPMATH_MODE_BF16 = 1;

    /** {@code dnnl_query_t}. */
    public static final int QUERY_SRC_MD = 129;
    public static final int QUERY_WEIGHTS_MD = 131;
    public static final int QUERY_DST_MD = 133;
    public static final int QUERY_SCRATCHPAD_MD = 136;
    public static final int QUERY_STRIDES = 14;
    public static final int QUERY_NDIMS_S32 = 256;
    public static final int QUERY_DIMS = 257;
    public static final int QUERY_DATA_TYPE = 258;
    public static final int QUERY_FORMAT_KIND = 262;
    public static final int QUERY_INNER_NBLKS_S32 = 263;

    /** {@code dnnl_blocked}: a plain or blocked layout (the kind whose strides can be queried). */
    public static final int FORMAT_KIND_BLOCKED = 2;

    /** {@code DNNL_ARG_*} execution argument indices. */
    public static final int ARG_SRC = 1;
    public static final int ARG_SRC_1 = 2;
    public static final int ARG_DST = 17;
    public static final int ARG_WEIGHTS = 33;
    public static final int ARG_BIAS = 41;
    public static final int ARG_SCALE = 51;
    public static final int ARG_SHIFT = 52;
    public static final int ARG_SCRATCHPAD = 80;
    public static final int ARG_FROM = ARG_SRC;
    public static final int ARG_TO = ARG_DST;

    /** {@code DNNL_MAX_NDIMS}. */
    public static final int MAX_NDIMS = 12;

    /** {@code dnnl_exec_arg_t {int arg; dnnl_memory_t memory;}}: 16 bytes, the pointer at offset 8. */
    public static final MemoryLayout EXEC_ARG = MemoryLayout.structLayout(
            JAVA_INT.withName("arg"), MemoryLayout.paddingLayout(4), ADDRESS.withName("memory"));

    /**
     * The {@link #EXEC_ARG} array of two arguments, {@code firstId} bound to {@code first} and {@code secondId} to
     * {@code second}, allocated by {@code allocator}: what a one-off primitive (a reorder, a reduction) executes with.
     */
    public static MemorySegment execArgs(SegmentAllocator allocator, int firstId, MemorySegment first, int secondId,
            MemorySegment second) {
        MemorySegment args = allocator.allocate(EXEC_ARG, 2);
        args.set(ADDRESS, 8, first);
        args.set(JAVA_INT, 0, firstId);
        args.set(JAVA_INT, EXEC_ARG.byteSize(), secondId);
        args.set(ADDRESS, EXEC_ARG.byteSize() + 8, second);
        return args;
    }

    private Dnnl() {}

    /**
     * {@code DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1}: the second input of binary post-op
     * {@code index}.
     */
    public static int argPostOpSrc1(int index) {
        return (32768 * (index + 1)) | ARG_SRC_1;
    }

    /** Throws {@link DnnlException} unless {@code status} is {@code dnnl_success}. */
    public static void check(int status, String call) {
        if (status != 0) {
            throw new DnnlException(call, status, statusName(status));
        }
    }

    /** The {@code dnnl_status_t} enumerator for a status code. */
    public static String statusName(int status) {
        return switch (status) {
            case 0 -> "dnnl_success";
            case 1 -> "dnnl_out_of_memory";
            case 2 -> "dnnl_invalid_arguments";
            case 3 -> "dnnl_unimplemented";
            case 4 -> "dnnl_last_impl_reached";
            case 5 -> "dnnl_runtime_error";
            case 6 -> "dnnl_not_required";
            case 9 -> "dnnl_invalid_shape";
            case 10 -> "dnnl_invalid_data_type";
            default -> "unknown status";
        };
    }

    private static final class GetEffectiveCpuIsa {
        static final MethodHandle H = dnnl("dnnl_get_effective_cpu_isa", FunctionDescriptor.of(JAVA_INT));
    }

    /**
     * {@code dnnl_cpu_isa_t dnnl_get_effective_cpu_isa(void)}: the instruction set oneDNN's kernels use on this CPU
     * (limited by {@code ONEDNN_MAX_CPU_ISA}); {@link #cpuIsaName} names it.
     */
    public static int getEffectiveCpuIsa() {
        requireLoaded();
        try {
            return (int) GetEffectiveCpuIsa.H.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The name of a {@code dnnl_cpu_isa_t} value as oneDNN 3.13's {@code dnnl_types.h} spells it, without the
     * {@code dnnl_cpu_isa_} prefix: the three AVX10.1/512 values by their {@code avx512_core_*} aliases (which
     * {@code ONEDNN_MAX_CPU_ISA} also takes), the AVX10.2 ones by their short names. An unknown value in
     * hexadecimal.
     */
    public static String cpuIsaName(int isa) {
        return switch (isa) {
            case 0x0 -> "default";
            case 0x1 -> "sse41";
            case 0x3 -> "avx";
            case 0x7 -> "avx2";
            case 0xf -> "avx2_vnni";
            case 0x1f -> "avx2_vnni_2";
            case 0x27 -> "avx512_core";
            case 0x67 -> "avx512_core_vnni";
            case 0xe7 -> "avx512_core_bf16";
            case 0x1ef -> "avx512_core_fp16";
            case 0xfef -> "avx512_core_amx";
            case 0x1fef -> "avx512_core_amx_fp16";
            case 0x201ff -> "avx10_2";
            case 0x22fff -> "avx10_2_amx_2";
            default -> "0x" + Integer.toHexString(isa);
        };
    }

    /** Loads oneDNN now and throws {@link NativeLibraryException} if it cannot be found. */
    public static void requireLoaded() {
        DnnlLibrary.Holder.LOADED.dnnl().failure().ifPresent(e -> {
            throw e;
        });
    }

    private static MethodHandle dnnl(String symbol, FunctionDescriptor descriptor) {
        return DnnlLibrary.Holder.LOADED.dnnl().lateFailingDowncall(symbol, descriptor);
    }

    private static MemorySegment dims(Arena arena, long[] values) {
        if (values.length > MAX_NDIMS) {
            throw new IllegalArgumentException("oneDNN supports at most " + MAX_NDIMS + " dimensions, got "
                    + values.length);
        }
        MemorySegment segment = arena.allocate(JAVA_LONG, MAX_NDIMS);
        MemorySegment.copy(values, 0, segment, JAVA_LONG, 0, values.length);
        return segment;
    }

    private static final class OmpSetNumThreads {
        static final MethodHandle H = DnnlLibrary.Holder.LOADED.gomp()
                .lateFailingDowncall("omp_set_num_threads", FunctionDescriptor.ofVoid(JAVA_INT));
    }

    /**
     * {@code void omp_set_num_threads(int)}: the number of threads oneDNN's next parallel regions started from
     * the calling thread use (an OpenMP setting is per calling thread).
     */
    public static void ompSetNumThreads(int threads) {
        requireLoaded();
        try {
            OmpSetNumThreads.H.invokeExact(threads);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class GompParallel {
        static final MethodHandle H = DnnlLibrary.Holder.LOADED.gomp()
                .lateFailingDowncall("GOMP_parallel",
                        FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
    }

    /**
     * {@code void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)}: libgomp's
     * entry for a {@code #pragma omp parallel} region, what a compiler emits for one. Runs {@code function(data)} on
     * {@code threads} threads of the calling thread's team (the caller and its pool's workers, the same threads
     * oneDNN's primitives run on) and returns when every one has returned. {@code function} may be an upcall stub:
     * a worker then runs Java code, attached to the JVM on its first call and for its lifetime. The upcall must not
     * throw (the JVM would exit).
     */
    public static void gompParallel(MemorySegment function, MemorySegment data, int threads) {
        requireLoaded();
        try {
            GompParallel.H.invokeExact(function, data, threads, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class OmpGetThreadNum {
        static final MethodHandle H = DnnlLibrary.Holder.LOADED.gomp()
                .lateFailingDowncall("omp_get_thread_num", FunctionDescriptor.of(JAVA_INT),
                        Linker.Option.critical(false));
    }

    /**
     * {@code int omp_get_thread_num(void)}: the calling thread's number in its team, 0 for the thread that
     * started the region (a critical downcall: a few nanoseconds, called once per thread and region).
     */
    public static int ompGetThreadNum() {
        try {
            return (int) OmpGetThreadNum.H.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class OmpGetNumThreads {
        static final MethodHandle H = DnnlLibrary.Holder.LOADED.gomp()
                .lateFailingDowncall("omp_get_num_threads", FunctionDescriptor.of(JAVA_INT),
                        Linker.Option.critical(false));
    }

    /** {@code int omp_get_num_threads(void)}: the number of threads in the calling thread's current team. */
    public static int ompGetNumThreads() {
        try {
            return (int) OmpGetNumThreads.H.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class OmpGetMaxThreads {
        static final MethodHandle H = DnnlLibrary.Holder.LOADED.gomp()
                .lateFailingDowncall("omp_get_max_threads", FunctionDescriptor.of(JAVA_INT));
    }

    /** {@code int omp_get_max_threads(void)}. */
    public static int ompGetMaxThreads() {
        requireLoaded();
        try {
            return (int) OmpGetMaxThreads.H.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class EngineCreate {
        static final MethodHandle H = dnnl("dnnl_engine_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    }

    /** {@code dnnl_status_t dnnl_engine_create(dnnl_engine_t *engine, dnnl_engine_kind_t kind, size_t index)}. */
    public static MemorySegment engineCreate(int kind, long index) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) EngineCreate.H.invokeExact(out, kind, index), "dnnl_engine_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class EngineDestroy {
        static final MethodHandle H = dnnl("dnnl_engine_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_engine_destroy(dnnl_engine_t engine)}. */
    public static void engineDestroy(MemorySegment engine) {
        try {
            check((int) EngineDestroy.H.invokeExact(engine), "dnnl_engine_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class StreamCreate {
        static final MethodHandle H = dnnl("dnnl_stream_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    }

    /** {@code dnnl_status_t dnnl_stream_create(dnnl_stream_t *stream, dnnl_engine_t engine, unsigned flags)}. */
    public static MemorySegment streamCreate(MemorySegment engine, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) StreamCreate.H.invokeExact(out, engine, flags), "dnnl_stream_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class StreamWait {
        static final MethodHandle H = dnnl("dnnl_stream_wait", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_stream_wait(dnnl_stream_t stream)}. */
    public static void streamWait(MemorySegment stream) {
        try {
            check((int) StreamWait.H.invokeExact(stream), "dnnl_stream_wait");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class StreamDestroy {
        static final MethodHandle H = dnnl("dnnl_stream_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_stream_destroy(dnnl_stream_t stream)}. */
    public static void streamDestroy(MemorySegment stream) {
        try {
            check((int) StreamDestroy.H.invokeExact(stream), "dnnl_stream_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescCreateWithTag {
        static final MethodHandle H = dnnl("dnnl_memory_desc_create_with_tag",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }

    /**
     * {@code dnnl_status_t dnnl_memory_desc_create_with_tag(dnnl_memory_desc_t *memory_desc, int ndims,
     * const dnnl_dims_t dims, dnnl_data_type_t data_type, dnnl_format_tag_t tag)}.
     */
    public static MemorySegment memoryDescCreateWithTag(long[] dims, int dataType, int tag) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) MemoryDescCreateWithTag.H.invokeExact(out, dims.length, dims(arena, dims), dataType, tag),
                    "dnnl_memory_desc_create_with_tag");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescCreateWithStrides {
        static final MethodHandle H = dnnl("dnnl_memory_desc_create_with_strides",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_memory_desc_create_with_strides(dnnl_memory_desc_t *memory_desc, int ndims,
     * const dnnl_dims_t dims, dnnl_data_type_t data_type, const dnnl_dims_t strides)}; strides in elements.
     */
    public static MemorySegment memoryDescCreateWithStrides(long[] dims, int dataType, long[] strides) {
        if (strides.length != dims.length) {
            throw new IllegalArgumentException("dims and strides differ in rank: " + dims.length + " vs "
                    + strides.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) MemoryDescCreateWithStrides.H.invokeExact(
                    out, dims.length, dims(arena, dims), dataType, dims(arena, strides)),
                    "dnnl_memory_desc_create_with_strides");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescDestroy {
        static final MethodHandle H = dnnl("dnnl_memory_desc_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_memory_desc_destroy(dnnl_memory_desc_t memory_desc)}. */
    public static void memoryDescDestroy(MemorySegment memoryDesc) {
        try {
            check((int) MemoryDescDestroy.H.invokeExact(memoryDesc), "dnnl_memory_desc_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescEqual {
        static final MethodHandle H = dnnl("dnnl_memory_desc_equal", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /** {@code int dnnl_memory_desc_equal(const_dnnl_memory_desc_t lhs, const_dnnl_memory_desc_t rhs)}. */
    public static boolean memoryDescEqual(MemorySegment lhs, MemorySegment rhs) {
        try {
            return (int) MemoryDescEqual.H.invokeExact(lhs, rhs) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescGetSize {
        static final MethodHandle H = dnnl("dnnl_memory_desc_get_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
    }

    /** {@code size_t dnnl_memory_desc_get_size(const_dnnl_memory_desc_t memory_desc)}: bytes. */
    public static long memoryDescGetSize(MemorySegment memoryDesc) {
        try {
            return (long) MemoryDescGetSize.H.invokeExact(memoryDesc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDescQuery {
        static final MethodHandle H = dnnl("dnnl_memory_desc_query",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_memory_desc_query(const_dnnl_memory_desc_t memory_desc, dnnl_query_t what,
     * void *result)}; {@code result} receives an int, or a pointer to a {@code dnnl_dims_t} for dims/strides.
     */
    public static void memoryDescQuery(MemorySegment memoryDesc, int what, MemorySegment result) {
        try {
            check((int) MemoryDescQuery.H.invokeExact(memoryDesc, what, result), "dnnl_memory_desc_query");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Bytes from the first to one past the last element a memory descriptor addresses: for a plain strided
     * layout that is {@code (1 + Σ (dim - 1)·stride) · elementSize}, which for a view into a larger array is less
     * than {@link #memoryDescGetSize} (outermost dim × outermost stride); other layouts use the latter.
     */
    public static long memoryDescSpanBytes(MemorySegment memoryDesc) {
        long byteSize = memoryDescGetSize(memoryDesc);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment result = arena.allocate(ADDRESS);
            memoryDescQuery(memoryDesc, QUERY_FORMAT_KIND, result);
            int formatKind = result.get(JAVA_INT, 0);
            memoryDescQuery(memoryDesc, QUERY_INNER_NBLKS_S32, result);
            if (formatKind != FORMAT_KIND_BLOCKED || result.get(JAVA_INT, 0) != 0) {
                return byteSize;
            }
            memoryDescQuery(memoryDesc, QUERY_NDIMS_S32, result);
            int ndims = result.get(JAVA_INT, 0);
            memoryDescQuery(memoryDesc, QUERY_DATA_TYPE, result);
            int elementBytes = switch (result.get(JAVA_INT, 0)) {
                case DATA_TYPE_F16, DATA_TYPE_BF16 -> 2;
                default -> 4;
            };
            memoryDescQuery(memoryDesc, QUERY_DIMS, result);
            MemorySegment dims = result.get(ADDRESS, 0).reinterpret(JAVA_LONG.byteSize() * MAX_NDIMS);
            memoryDescQuery(memoryDesc, QUERY_STRIDES, result);
            MemorySegment strides = result.get(ADDRESS, 0).reinterpret(JAVA_LONG.byteSize() * MAX_NDIMS);
            long lastElement = 0;
            for (int axis = 0; axis < ndims; axis++) {
                lastElement += (dims.getAtIndex(JAVA_LONG, axis) - 1) * strides.getAtIndex(JAVA_LONG, axis);
            }
            return Math.min(byteSize, (lastElement + 1) * elementBytes);
        }
    }

    private static final class MemoryCreate {
        static final MethodHandle H = dnnl("dnnl_memory_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_memory_create(dnnl_memory_t *memory, const_dnnl_memory_desc_t memory_desc,
     * dnnl_engine_t engine, void *handle)}; pass {@link MemorySegment#NULL} and set the handle before execution.
     */
    public static MemorySegment memoryCreate(MemorySegment memoryDesc, MemorySegment engine, MemorySegment handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) MemoryCreate.H.invokeExact(out, memoryDesc, engine, handle), "dnnl_memory_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemorySetDataHandle {
        static final MethodHandle H = dnnl("dnnl_memory_set_data_handle",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_memory_set_data_handle(dnnl_memory_t memory, void *handle)}. */
    public static void memorySetDataHandle(MemorySegment memory, MemorySegment handle) {
        try {
            check((int) MemorySetDataHandle.H.invokeExact(memory, handle), "dnnl_memory_set_data_handle");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MemoryDestroy {
        static final MethodHandle H = dnnl("dnnl_memory_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_memory_destroy(dnnl_memory_t memory)}. */
    public static void memoryDestroy(MemorySegment memory) {
        try {
            check((int) MemoryDestroy.H.invokeExact(memory), "dnnl_memory_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveAttrCreate {
        static final MethodHandle H = dnnl("dnnl_primitive_attr_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_primitive_attr_create(dnnl_primitive_attr_t *attr)}. */
    public static MemorySegment primitiveAttrCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) PrimitiveAttrCreate.H.invokeExact(out), "dnnl_primitive_attr_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveAttrDestroy {
        static final MethodHandle H = dnnl("dnnl_primitive_attr_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_primitive_attr_destroy(dnnl_primitive_attr_t attr)}. */
    public static void primitiveAttrDestroy(MemorySegment attr) {
        try {
            check((int) PrimitiveAttrDestroy.H.invokeExact(attr), "dnnl_primitive_attr_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveAttrSetFpmathMode {
        static final MethodHandle H = dnnl("dnnl_primitive_attr_set_fpmath_mode",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    /**
     * {@code dnnl_status_t dnnl_primitive_attr_set_fpmath_mode(dnnl_primitive_attr_t attr,
     * dnnl_fpmath_mode_t mode)}.
     */
    public static void primitiveAttrSetFpmathMode(MemorySegment attr, int mode) {
        try {
            check((int) PrimitiveAttrSetFpmathMode.H.invokeExact(attr, mode), "dnnl_primitive_attr_set_fpmath_mode");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveAttrSetScratchpadMode {
        static final MethodHandle H = dnnl("dnnl_primitive_attr_set_scratchpad_mode",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    /**
     * {@code dnnl_status_t dnnl_primitive_attr_set_scratchpad_mode(dnnl_primitive_attr_t attr,
     * dnnl_scratchpad_mode_t mode)}.
     */
    public static void primitiveAttrSetScratchpadMode(MemorySegment attr, int mode) {
        try {
            check((int) PrimitiveAttrSetScratchpadMode.H.invokeExact(attr, mode),
                    "dnnl_primitive_attr_set_scratchpad_mode");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveAttrSetPostOps {
        static final MethodHandle H = dnnl("dnnl_primitive_attr_set_post_ops",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_primitive_attr_set_post_ops(dnnl_primitive_attr_t attr,
     * const_dnnl_post_ops_t post_ops)}; the attribute keeps its own copy.
     */
    public static void primitiveAttrSetPostOps(MemorySegment attr, MemorySegment postOps) {
        try {
            check((int) PrimitiveAttrSetPostOps.H.invokeExact(attr, postOps), "dnnl_primitive_attr_set_post_ops");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PostOpsCreate {
        static final MethodHandle H = dnnl("dnnl_post_ops_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_post_ops_create(dnnl_post_ops_t *post_ops)}. */
    public static MemorySegment postOpsCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) PostOpsCreate.H.invokeExact(out), "dnnl_post_ops_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PostOpsDestroy {
        static final MethodHandle H = dnnl("dnnl_post_ops_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_post_ops_destroy(dnnl_post_ops_t post_ops)}. */
    public static void postOpsDestroy(MemorySegment postOps) {
        try {
            check((int) PostOpsDestroy.H.invokeExact(postOps), "dnnl_post_ops_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PostOpsAppendEltwise {
        static final MethodHandle H = dnnl("dnnl_post_ops_append_eltwise",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT));
    }

    /**
     * {@code dnnl_status_t dnnl_post_ops_append_eltwise(dnnl_post_ops_t post_ops, dnnl_alg_kind_t alg_kind,
     * float alpha, float beta)}.
     */
    public static void postOpsAppendEltwise(MemorySegment postOps, int algorithm, float alpha, float beta) {
        try {
            check((int) PostOpsAppendEltwise.H.invokeExact(postOps, algorithm, alpha, beta),
                    "dnnl_post_ops_append_eltwise");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PostOpsAppendSum {
        static final MethodHandle H = dnnl("dnnl_post_ops_append_sum",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT, JAVA_INT, JAVA_INT));
    }

    /**
     * {@code dnnl_status_t dnnl_post_ops_append_sum(dnnl_post_ops_t post_ops, float scale, int32_t zero_point,
     * dnnl_data_type_t data_type)}: adds {@code scale ·} the destination's previous values (read in the destination's
     * type, {@code data_type} undef).
     */
    public static void postOpsAppendSum(MemorySegment postOps, float scale) {
        try {
            check((int) PostOpsAppendSum.H.invokeExact(postOps, scale, 0, DATA_TYPE_UNDEF),
                    "dnnl_post_ops_append_sum");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PostOpsAppendBinary {
        static final MethodHandle H = dnnl("dnnl_post_ops_append_binary",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_post_ops_append_binary(dnnl_post_ops_t post_ops, dnnl_alg_kind_t alg_kind,
     * const_dnnl_memory_desc_t src1_desc)}; its input is passed as {@link #argPostOpSrc1}.
     */
    public static void postOpsAppendBinary(MemorySegment postOps, int algorithm, MemorySegment src1Desc) {
        try {
            check((int) PostOpsAppendBinary.H.invokeExact(postOps, algorithm, src1Desc),
                    "dnnl_post_ops_append_binary");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class MatmulPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_matmul_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_matmul_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, const_dnnl_memory_desc_t src_desc, const_dnnl_memory_desc_t weights_desc,
     * const_dnnl_memory_desc_t bias_desc, const_dnnl_memory_desc_t dst_desc, const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment matmulPrimitiveDescCreate(MemorySegment engine, MemorySegment srcDesc,
            MemorySegment weightsDesc, MemorySegment biasDesc, MemorySegment dstDesc, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) MatmulPrimitiveDescCreate.H.invokeExact(out, engine, srcDesc, weightsDesc, biasDesc,
                    dstDesc, attr), "dnnl_matmul_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class ConvolutionForwardPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_convolution_forward_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                        ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_convolution_forward_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, const_dnnl_memory_desc_t
     * src_desc, const_dnnl_memory_desc_t weights_desc, const_dnnl_memory_desc_t bias_desc,
     * const_dnnl_memory_desc_t dst_desc, const dnnl_dims_t strides, const dnnl_dims_t dilates,
     * const dnnl_dims_t padding_l, const dnnl_dims_t padding_r, const_dnnl_primitive_attr_t attr)}; grouped
     * convolutions take 5-D {@code goihw} weights. Dilations count from 0 (no dilation).
     */
    public static MemorySegment convolutionForwardPrimitiveDescCreate(MemorySegment engine, int propKind,
            int algorithm, MemorySegment srcDesc, MemorySegment weightsDesc, MemorySegment biasDesc,
            MemorySegment dstDesc, long[] strides, long[] dilates, long[] paddingLeft, long[] paddingRight,
            MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) ConvolutionForwardPrimitiveDescCreate.H.invokeExact(out, engine, propKind, algorithm,
                    srcDesc, weightsDesc, biasDesc, dstDesc, dims(arena, strides), dims(arena, dilates),
                    dims(arena, paddingLeft), dims(arena, paddingRight), attr),
                    "dnnl_convolution_forward_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class LayerNormalizationForwardPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_layer_normalization_forward_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_FLOAT,
                        JAVA_INT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_layer_normalization_forward_primitive_desc_create(dnnl_primitive_desc_t
     * *primitive_desc, dnnl_engine_t engine, dnnl_prop_kind_t prop_kind, const_dnnl_memory_desc_t src_desc,
     * const_dnnl_memory_desc_t dst_desc, const_dnnl_memory_desc_t stat_desc, float epsilon, unsigned flags,
     * const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment layerNormalizationForwardPrimitiveDescCreate(MemorySegment engine, int propKind,
            MemorySegment srcDesc, MemorySegment dstDesc, MemorySegment statDesc, float epsilon, int flags,
            MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) LayerNormalizationForwardPrimitiveDescCreate.H.invokeExact(out, engine, propKind, srcDesc,
                    dstDesc, statDesc, epsilon, flags, attr), "dnnl_layer_normalization_forward_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class SoftmaxForwardPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_softmax_forward_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                        ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_softmax_forward_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, const_dnnl_memory_desc_t
     * src_desc, const_dnnl_memory_desc_t dst_desc, int softmax_axis, const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment softmaxForwardPrimitiveDescCreate(MemorySegment engine, int propKind, int algorithm,
            MemorySegment srcDesc, MemorySegment dstDesc, int axis, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) SoftmaxForwardPrimitiveDescCreate.H.invokeExact(out, engine, propKind, algorithm, srcDesc,
                    dstDesc, axis, attr), "dnnl_softmax_forward_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class ReductionPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_reduction_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT, JAVA_FLOAT,
                        ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_reduction_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, dnnl_alg_kind_t alg_kind, const_dnnl_memory_desc_t src_desc, const_dnnl_memory_desc_t
     * dst_desc, float p, float eps, const_dnnl_primitive_attr_t attr)}: the dimensions where {@code dst} is 1 are
     * reduced.
     */
    public static MemorySegment reductionPrimitiveDescCreate(MemorySegment engine, int algorithm,
            MemorySegment srcDesc, MemorySegment dstDesc, float p, float eps, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) ReductionPrimitiveDescCreate.H.invokeExact(out, engine, algorithm, srcDesc, dstDesc, p, eps,
                    attr), "dnnl_reduction_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class EltwiseForwardPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_eltwise_forward_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT,
                        JAVA_FLOAT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_eltwise_forward_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, const_dnnl_memory_desc_t
     * src_desc, const_dnnl_memory_desc_t dst_desc, float alpha, float beta, const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment eltwiseForwardPrimitiveDescCreate(MemorySegment engine, int propKind, int algorithm,
            MemorySegment srcDesc, MemorySegment dstDesc, float alpha, float beta, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) EltwiseForwardPrimitiveDescCreate.H.invokeExact(out, engine, propKind, algorithm, srcDesc,
                    dstDesc, alpha, beta, attr), "dnnl_eltwise_forward_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class BinaryPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_binary_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_binary_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc,
     * dnnl_engine_t engine, dnnl_alg_kind_t alg_kind, const_dnnl_memory_desc_t src0_desc,
     * const_dnnl_memory_desc_t src1_desc, const_dnnl_memory_desc_t dst_desc, const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment binaryPrimitiveDescCreate(MemorySegment engine, int algorithm,
            MemorySegment src0Desc, MemorySegment src1Desc, MemorySegment dstDesc, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) BinaryPrimitiveDescCreate.H.invokeExact(out, engine, algorithm, src0Desc, src1Desc, dstDesc,
                    attr), "dnnl_binary_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class ReorderPrimitiveDescCreate {
        static final MethodHandle H = dnnl("dnnl_reorder_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_reorder_primitive_desc_create(dnnl_primitive_desc_t *reorder_primitive_desc,
     * const_dnnl_memory_desc_t src_desc, dnnl_engine_t src_engine, const_dnnl_memory_desc_t dst_desc,
     * dnnl_engine_t dst_engine, const_dnnl_primitive_attr_t attr)}.
     */
    public static MemorySegment reorderPrimitiveDescCreate(MemorySegment srcDesc, MemorySegment srcEngine,
            MemorySegment dstDesc, MemorySegment dstEngine, MemorySegment attr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) ReorderPrimitiveDescCreate.H.invokeExact(out, srcDesc, srcEngine, dstDesc, dstEngine, attr),
                    "dnnl_reorder_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveDescQueryMd {
        static final MethodHandle H = dnnl("dnnl_primitive_desc_query_md",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
    }

    /**
     * {@code const_dnnl_memory_desc_t dnnl_primitive_desc_query_md(const_dnnl_primitive_desc_t primitive_desc,
     * dnnl_query_t what, int index)}: owned by the primitive descriptor, never destroyed by the caller; NULL when
     * the primitive has no such memory.
     */
    public static MemorySegment primitiveDescQueryMd(MemorySegment primitiveDesc, int what, int index) {
        try {
            return (MemorySegment) PrimitiveDescQueryMd.H.invokeExact(primitiveDesc, what, index);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveDescDestroy {
        static final MethodHandle H = dnnl("dnnl_primitive_desc_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_primitive_desc_destroy(dnnl_primitive_desc_t primitive_desc)}. */
    public static void primitiveDescDestroy(MemorySegment primitiveDesc) {
        try {
            check((int) PrimitiveDescDestroy.H.invokeExact(primitiveDesc), "dnnl_primitive_desc_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveCreate {
        static final MethodHandle H = dnnl("dnnl_primitive_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_primitive_create(dnnl_primitive_t *primitive, const_dnnl_primitive_desc_t
     * primitive_desc)}.
     */
    public static MemorySegment primitiveCreate(MemorySegment primitiveDesc) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) PrimitiveCreate.H.invokeExact(out, primitiveDesc), "dnnl_primitive_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveExecute {
        static final MethodHandle H = dnnl("dnnl_primitive_execute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    }

    /**
     * {@code dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t primitive, dnnl_stream_t stream,
     * int nargs, const dnnl_exec_arg_t *args)}; {@code args} holds {@code argCount} {@link #EXEC_ARG}s.
     */
    public static void primitiveExecute(MemorySegment primitive, MemorySegment stream, int argCount,
            MemorySegment args) {
        try {
            check((int) PrimitiveExecute.H.invokeExact(primitive, stream, argCount, args), "dnnl_primitive_execute");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class PrimitiveDestroy {
        static final MethodHandle H = dnnl("dnnl_primitive_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code dnnl_status_t dnnl_primitive_destroy(dnnl_primitive_t primitive)}. */
    public static void primitiveDestroy(MemorySegment primitive) {
        try {
            check((int) PrimitiveDestroy.H.invokeExact(primitive), "dnnl_primitive_destroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
