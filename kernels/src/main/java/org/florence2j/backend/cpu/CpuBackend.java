package org.florence2j.backend.cpu;

import static org.florence2j.bindings.Dnnl.DATA_TYPE_F32;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.backend.OpChecks;
import org.florence2j.bindings.Dnnl;
import org.florence2j.bindings.Libc;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The CPU {@link Backend}: oneDNN primitives (matmul, convolution, layer normalization, softmax, eltwise, binary,
 * reorder) for the arithmetic, created once per shape and cached in a {@link DnnlPrimitiveCache}, and Java loops
 * ({@link ScalarKernels}, {@link MemorySegment#copy}) for data movement. Where the JVM has the Vector API
 * ({@code --add-modules=jdk.incubator.vector}) the beam search's top-k and a decoder step's small ops run in Java
 * with it ({@link VectorLogSoftmaxTopK}, {@link #JAVA_DECODE_KERNELS_PROPERTY}); without it the top-k runs as
 * scalar loops, the small ops on oneDNN, and nothing loads the module's classes ({@link #vectorApiAvailable}).
 *
 * <p>Attention never permutes: the per-head views of a packed {@code [batch, tokens, 3·channels]} projection are
 * strided oneDNN memory descriptors, so q·kᵀ and p·v are batched matmuls reading the projection in place and
 * writing the output in its final {@code [batch, tokens, channels]} layout. Scores go to a scratch buffer the
 * backend owns, at most {@link #SCORES_CHUNK_BYTES} per pass.
 *
 * <p>Weights stay in host memory: {@link #upload} returns an F32 host tensor as is (memory-mapped weights are
 * used in place) and converts other dtypes. {@link #uploadLinearWeight} also packs a linear weight once into the
 * blocked layout oneDNN's matmul chooses ({@code format_tag any}): given the plain {@code [out, in]} weight, brgemm
 * re-packs it on every call, which made a 3-row decoder step 3× slower than streaming its weights; a convolution
 * weight from {@link #uploadConvWeight} is packed likewise on its first use. Compute is F32, or bf16 for matmuls
 * in bf16 mode and for linear weights uploaded for BF16 in either mode.
 *
 * <p>Ops are serialised ({@code synchronized}): cached primitives carry per-call state (data handles). oneDNN
 * parallelises inside each op over OpenMP threads, except ops moving less than {@link #ONE_THREAD_BYTES}, which run
 * on the calling thread alone (a decode step's 3-row ops: waking the team costs more than they take).
 *
 * <p>Call it, and every other CPU backend of the process, from one thread (that also opens them and uploads the
 * weights), as {@code Florence2} does with its engine thread. OpenMP (libgomp) keeps a pool of worker threads for
 * each thread that runs a parallel op, and once the process holds more pool threads than cores, idle workers spin
 * only 100 times before they sleep, so that every op waits for a wake-up: on two cores, a 3-row 768×768 bf16 product
 * took 63–65 µs instead of 28 once a second thread had run an op.
 */
public final class CpuBackend implements Backend {
    /**
     * Bytes of attention scores computed per pass; bounds scratch memory and keeps scores near the cache. 2 MB ran
     * the base vision tower as fast as 8 MB (A/B, within 2 %) and takes 11 MB less at peak.
     */
    static final long SCORES_CHUNK_BYTES = 2L << 20;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Ops moving fewer bytes than this run on one OpenMP thread ({@link #useTeam}): below it a second thread saves
     * less than the ~10 µs it costs to start and join the team. F32 layer norms and adds this small run in Java
     * instead, unless {@link #JAVA_DECODE_KERNELS_PROPERTY} is false.
     */
    static final long ONE_THREAD_BYTES = 256L << 10;

    /**
     * F32 attention of one query token per row (a decoder step) reading at most this many key and value bytes
     * ({@link SmallAttention#bytesRead}) runs in Java instead of as oneDNN's three primitives. Measured on one
     * thread: a base decoder step's self-attention over its cache reads 0.4 MB at 21 tokens and 2.4 MB at 128, where
     * Java took 0.5–0.7× and 0.7–0.85× the primitives' time; at 9.7 MB (521 tokens) the two were even, and the
     * step's cross-attention (10.8 MB, its three beams reading the same keys) is 6× slower in Java.
     */
    static final long SMALL_ATTENTION_BYTES = 4L << 20;

    /**
     * Up to this many bytes, attention whose every group has a single query row (a decoder's self-attention: each
     * beam has its own cache) runs in Java also over {@link #SMALL_ATTENTION_BYTES}, when {@link SmallAttention}
     * splits each row's keys over the OpenMP team (more than one thread, memory any thread may read). Base, 3 beams,
     * two threads against the primitives: 145 against 194 µs at 300 cached tokens (5.5 MB), 249 against 309 at 500,
     * 446 against 710 at 1,000 (18 MB). Groups of several rows (cross-attention: the beams share one image's keys)
     * stay under {@link #SMALL_ATTENTION_BYTES}: Java reads the keys once per row, the primitives once per group,
     * and base's F32 cross-attention of 3 beams took 280–370 µs in Java on two threads against 86–144 µs.
     */
    static final long TEAM_ATTENTION_BYTES = 32L << 20;

    /**
     * {@link SmallAttention} splits each row's keys over the OpenMP team only from this many bytes read: below, the
     * region's start and join in a decoder step (~6 µs: the step's other ops leave the worker thread less ready than
     * back-to-back regions, 0.5 µs) cost what the split saves on cold caches. Base, 3 beams, caches evicted, one
     * thread against two: 21 tokens (0.4 MB) even, 40 (0.7 MB) 1.14×, 64 (1.2 MB) 1.28×, 128 (2.4 MB) 1.35× faster; in
     * a base step at 0–39 tokens two threads took 27–32 µs a layer against 25.
     */
    static final long TEAM_ATTENTION_MIN_BYTES = 1L << 20;

    /**
     * System property: {@code false} keeps a decoder step's small ops on oneDNN's primitives instead of the Java
     * kernels ({@link SmallAttention}, {@link VectorKernels#layerNormRows}, {@link ScalarKernels#addRows}, and
     * {@link VectorKernels#roundToBfloat16} for the input of a linear whose weight is packed in bf16). Those made a
     * warm base bf16 step 1.5–6 % faster before the rounding joined them, which alone saves another 1–3.5 %, but C2
     * spends ~0.5 s of CPU compiling their Vector API code, which a process that decodes once pays on cores its
     * decode needs (a CLI {@code <OD>} of 128 tokens was 0.3–0.5 s slower on two cores with them). Read when a
     * backend opens. Without the Vector API ({@link #vectorApiAvailable}) they are off whatever it says: the
     * {@code florence2} launcher, which set this property, now leaves the module out instead.
     */
    public static final String JAVA_DECODE_KERNELS_PROPERTY = "florence2j.cpu.javaDecodeKernels";

    /** Keys read by a causal attention are rounded up to a multiple of this (see {@link #attendKeyRows}). */
    static final int CAUSAL_KEY_BUCKET = 32;

    /**
     * Mapped embedding tables at least this large have their file pages dropped now and then. A table read in
     * place from the checkpoint (base's tied {@code shared}, 157 MB in F32) otherwise kept growing resident memory:
     * the kernel maps the 64 KB around each row a lookup faults in, +25 MB over a 128-token {@code <OD>} of random
     * ids. A smaller one (the learned positions, 3 MB) can at most become resident whole.
     */
    static final long UNLOADED_TABLE_BYTES = 16L << 20;

    /**
     * Lookups between two drops of a large table's pages: dropping walks the table's page tables and flushes the
     * other cores' TLBs (~50 µs for base's table, as long as a decode step's attention), so a decode step must not
     * pay it every time; in between, at most this many lookups' rows (64 KB each) stay resident.
     */
    static final int LOOKUPS_PER_UNLOAD = 4;

    /**
     * The most OpenMP threads a backend asks for. libgomp creates a team's threads on its first region, and at
     * 8,192 of them it crashed the process with no message (a segmentation fault) on a 2-core machine; no CPU that
     * runs Florence-2 gains from a thousand threads of one op.
     */
    public static final int MAX_THREADS = 1024;

    /**
     * OpenMP threads of a parallel op: the {@code threads} argument, or OpenMP's default when that is 0, at most
     * {@link #MAX_THREADS}.
     */
    private final int parallelTeam;
    private final DType computeType;
    /**
     * The team the running op uses (ops are serialised): part of the keys of the primitives several ops share (the
     * bf16 rounding, the softmax), whose shapes alone do not decide the team.
     */
    private int appliedTeam;
    private MemorySegment countedTable = MemorySegment.NULL; // the large mapped table dropPagesPeriodically counts
    private int lookupsSinceUnload;
    /**
     * The team size last applied on each calling thread ({@code -1}: not yet), by any backend: the OpenMP setting is
     * the thread's, so a record per backend went stale when two backends ran ops on one thread (models sharing an
     * engine thread), and an op then ran on the other backend's team.
     */
    private static final ThreadLocal<int[]> TEAM_OF_THREAD = ThreadLocal.withInitial(() -> new int[] {-1});
    private final MemorySegment engine;
    private final MemorySegment stream;
    private final DnnlPrimitiveCache cache;
    /** Packed copies of linear weights, by the weight's memory segment (the instance its tensor hands out). */
    private final Map<MemorySegment, PackedWeight> packedWeights = new IdentityHashMap<>();
    private final Map<Convolution, ConvLayout> convLayouts = new HashMap<>();
    private final Map<MemorySegment, PackedConv> packedConvWeights = new IdentityHashMap<>();
    private final GrowingBuffer scratch = new GrowingBuffer();
    private final GrowingBuffer linearInput = new GrowingBuffer(); // linear's input rounded to bf16
    private final GrowingBuffer meanRow = new GrowingBuffer(); // meanTokens' row of 1/tokens
    private final GrowingBuffer attentionProbabilities = new GrowingBuffer(); // bf16 softmax output
    private long meanRowTokens; // the token count meanRow holds 1/tokens for; 0: none yet
    private final Attention attention = new Attention(); // the problem of the attention op running now
    private final SmallAttention smallAttention; // null without javaDecodeKernels
    private final float[] layerNormLanes; // VectorKernels.layerNormRows' scratch; null without javaDecodeKernels
    private long smallAttentionBytes = SMALL_ATTENTION_BYTES;
    private long teamAttentionBytes = TEAM_ATTENTION_BYTES;
    private long teamAttentionMinBytes = TEAM_ATTENTION_MIN_BYTES;
    private final boolean javaDecodeKernels; // see JAVA_DECODE_KERNELS_PROPERTY
    private final LogSoftmaxTopK logSoftmaxTopK;
    private final OpenMpTeam team = new OpenMpTeam(); // Java work on oneDNN's threads
    /** bf16 mode's cross-attention, see {@link #packsCrossAttention}; null without javaDecodeKernels. */
    private final PackedCrossAttention packedCrossAttention;
    /**
     * The shared argument checks, with the weight dtypes linear and conv weights are read in. Operands the oneDNN
     * primitives here read only as F32 (matmul's and add's b, linear and conv biases, layerNorm's parameters) are
     * checked as F32 on top. embedding keeps a CPU check: it also takes I64 ids.
     */
    private final OpChecks checks;
    private boolean closed;

    /**
     * Opens a CPU backend computing in F32.
     *
     * @param threads OpenMP threads oneDNN may use per op, at most {@link #MAX_THREADS}; 0 keeps the OpenMP default
     *                ({@code OMP_NUM_THREADS} or every core, taken as {@link #MAX_THREADS} where it is more)
     * @throws org.florence2j.bindings.NativeLibraryException if oneDNN cannot be loaded
     */
    public CpuBackend(int threads) {
        this(threads, DType.F32);
    }

    /**
     * Opens a CPU backend.
     *
     * @param threads     OpenMP threads oneDNN may use per op, at most {@link #MAX_THREADS}; 0 keeps the OpenMP
     *                    default, taken as {@link #MAX_THREADS} where it is more
     * @param computeType {@link DType#F32}, or {@link DType#BF16}: linear weights are packed in bf16 (half the
     *                    memory and bandwidth) and {@link #linear} rounds an F32 input to bf16, so the matmul runs
     *                    oneDNN's bf16 kernels (AVX-512 BF16 or AMX where the CPU has them) with f32 accumulation;
     *                    activations that only pass between matmuls may stay bf16 ({@link #matmulActivationType}),
     *                    and {@link #conv2d} on a bf16 input runs in bf16; other matmuls may use bf16 internally
     *                    (oneDNN's fpmath mode, which its F32 convolution kernels ignore); normalisation statistics,
     *                    softmax and the residual stream stay F32
     * @throws org.florence2j.bindings.NativeLibraryException if oneDNN cannot be loaded
     */
    public CpuBackend(int threads, DType computeType) {
        this(threads, computeType, VectorApi.AVAILABLE);
    }

    /**
     * Opens a CPU backend that uses the Vector API or not: tests run the scalar paths of a JVM without it here.
     *
     * @param vectorApi whether to run the Vector API kernels; true only where {@link #vectorApiAvailable}
     */
    CpuBackend(int threads, DType computeType, boolean vectorApi) {
        if (threads < 0 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be 0 to " + MAX_THREADS + ": " + threads);
        }
        if (computeType != DType.F32 && computeType != DType.BF16) {
            throw new IllegalArgumentException("CpuBackend computes in F32 or BF16, not " + computeType);
        }
        Dnnl.requireLoaded();
        int processDefault = DefaultTeam.SIZE; // read on the first backend's construction, before any op
        this.parallelTeam = threads > 0 ? threads : Math.min(processDefault, MAX_THREADS);
        this.computeType = computeType;
        this.javaDecodeKernels =
                vectorApi && Boolean.parseBoolean(System.getProperty(JAVA_DECODE_KERNELS_PROPERTY, "true"));
        this.checks = new OpChecks(Device.cpu(), EnumSet.of(DType.F32, DType.F16, DType.BF16),
                EnumSet.of(DType.F32, matmulActivationType()));
        this.engine = Dnnl.engineCreate(Dnnl.ENGINE_CPU, 0);
        this.stream = Dnnl.streamCreate(engine, Dnnl.STREAM_DEFAULT_FLAGS);
        this.cache = new DnnlPrimitiveCache(engine,
                computeType == DType.BF16 ? Dnnl.FPMATH_MODE_BF16 : Dnnl.FPMATH_MODE_STRICT);
        this.logSoftmaxTopK = vectorApi ? new VectorLogSoftmaxTopK() : new LogSoftmaxTopK();
        this.packedCrossAttention = javaDecodeKernels ? new PackedCrossAttention(cache, engine, team) : null;
        this.smallAttention = javaDecodeKernels ? new SmallAttention(team) : null;
        this.layerNormLanes = javaDecodeKernels ? new float[VectorMath.LANES] : null;
    }

    /**
     * Whether this JVM gives florence2j the JDK's Vector API ({@code --add-modules=jdk.incubator.vector}), which
     * the CPU backend uses for the beam search's top-k and, by default, a decoder step's small ops. Without it
     * those run as scalar loops and on oneDNN, a few percent slower a step once the Vector API code is compiled. The
     * results are those of {@link #JAVA_DECODE_KERNELS_PROPERTY} false, but for the top-k's log-sums, which may
     * differ by ~1e-12 ({@link LogSoftmaxTopK}); with the decode kernels on, a step's attention sums in another
     * order than oneDNN's, which can flip a near tie.
     */
    public static boolean vectorApiAvailable() {
        return VectorApi.AVAILABLE;
    }

    /**
     * OpenMP's default team size, read once, before any backend set a thread's: {@code omp_get_max_threads} answers
     * for the calling thread, whose setting {@link #useTeam} changes (a second backend opened on a thread that had
     * run a one-thread op took 1 for its parallel ops).
     */
    private static final class DefaultTeam {
        static final int SIZE = Dnnl.ompGetMaxThreads();
    }

    /** Threads this backend's parallel ops use. */
    int parallelTeam() {
        return parallelTeam;
    }

    /** Opens a CPU backend with the OpenMP default thread count. */
    public CpuBackend() {
        this(0);
    }

    @Override
    public Device device() {
        return Device.cpu();
    }

    /**
     * Number of live linear weights whose packed copy is bf16: a test hook (public for core's tests), checking which
     * weights a model packs so.
     */
    public synchronized int packedBf16LinearWeights() {
        ensureOpen();
        return (int) packedWeights.values().stream().filter(p -> p.bf16() && p.memory().scope().isAlive()).count();
    }

    /** Number of uploaded convolution weights holding a packed copy (tests check reuse and release). */
    synchronized int packedConvolutionWeights() {
        ensureOpen();
        return (int) packedConvWeights.values().stream().filter(p -> p.memory() != null).count();
    }

    /**
     * Sets both the {@link #SMALL_ATTENTION_BYTES} and the {@link #TEAM_ATTENTION_BYTES} limit of this backend: tests
     * run the same problems through both the Java path and the primitives.
     */
    synchronized void smallAttentionBytes(long bytes) {
        smallAttentionBytes = bytes;
        teamAttentionBytes = bytes;
    }

    /** Sets the {@link #TEAM_ATTENTION_MIN_BYTES} limit of this backend: tests run small problems on the team. */
    synchronized void teamAttentionMinBytes(long bytes) {
        teamAttentionMinBytes = bytes;
    }

    /** Number of cached oneDNN primitives (tests check reuse). */
    public synchronized int cachedPrimitives() {
        ensureOpen();
        return cache.size();
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape, Arena owner) {
        ensureOpen();
        return Tensor.allocateHost(dtype, shape, owner);
    }

    @Override
    public Tensor upload(Tensor host, DType dtype, Arena owner) {
        ensureOpen();
        requireHost("upload", host);
        if (host.dtype() == dtype) {
            return host;
        }
        Tensor copy = Tensor.allocateHost(dtype, host.shape(), owner);
        convertInto("upload", copy, host);
        if (host.memory().isMapped()) {
            // Ops read the copy: drop the file pages it was converted from from resident memory.
            host.memory().unload();
        }
        return copy;
    }

    /**
     * A linear weight in oneDNN's own layout, in its owner's arena. {@code layout} is the primitive descriptor the
     * layout was queried from, kept because its weights descriptor describes {@code memory}; {@code bf16} whether
     * it holds bf16 values, which {@link #linear} then feeds bf16 activations.
     */
    private record PackedWeight(MemorySegment memory, MemorySegment layout, boolean bf16) {
        MemorySegment desc() {
            return Dnnl.primitiveDescQueryMd(layout, Dnnl.QUERY_WEIGHTS_MD, 0);
        }
    }

    /** Rows of the matmul a weight's layout is chosen for; oneDNN picks the same f32 layout for 3 or 2304 rows. */
    private static final long PACKING_ROWS = 64;

    /**
     * {@inheritDoc}
     *
     * <p>An F32 request for an F16 or BF16 host weight returns the host weight itself: the packed copy is converted
     * from it directly, so no F32 copy is kept beside the packed one (for a 16-bit checkpoint that copy was twice
     * the packed weight in bf16 mode). {@link #linear} reads the packed copy; other ops (a tied embedding) read any
     * float dtype.
     *
     * <p>A BF16 request packs the copy in bf16 in either mode, so that an F32 backend can run some linears as bf16
     * mode does (the input rounded to bf16, f32 accumulation) and others in F32; it too returns the host weight.
     */
    @Override
    public synchronized Tensor uploadLinearWeight(Tensor host, DType dtype, Arena owner) {
        ensureOpen();
        requireHost("uploadLinearWeight", host);
        boolean packFromHost = dtype == DType.BF16
                || dtype == DType.F32 && (host.dtype() == DType.F16 || host.dtype() == DType.BF16);
        Tensor weight = packFromHost ? host : upload(host, dtype, owner);
        require(weight.shape().rank() == 2, "uploadLinearWeight", "expected a weight [outFeatures, inFeatures]",
                weight);
        useTeam(Long.MAX_VALUE);
        packedWeights.values().removeIf(p -> {
            boolean dead = !p.memory().scope().isAlive();
            if (dead) {
                Dnnl.primitiveDescDestroy(p.layout());
            }
            return dead;
        });
        long in = weight.shape().dim(1);
        long outFeatures = weight.shape().dim(0);
        int weightType = floatType("uploadLinearWeight", weight);
        // A bf16 weight is fed bf16 activations (see linear): oneDNN only runs its bf16 kernels when both inputs are
        // bf16, and picks a different (pair-interleaved) weight layout for them.
        boolean bf16 = computeType == DType.BF16 || dtype == DType.BF16;
        MemorySegment src = Dnnl.memoryDescCreateWithStrides(new long[] {PACKING_ROWS, in},
                bf16 ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32, new long[] {in, 1});
        int packedType = bf16 ? Dnnl.DATA_TYPE_BF16 : packFromHost ? DATA_TYPE_F32 : weightType;
        MemorySegment any = Dnnl.memoryDescCreateWithTag(new long[] {in, outFeatures}, packedType,
                Dnnl.FORMAT_TAG_ANY);
        MemorySegment dst = Dnnl.memoryDescCreateWithStrides(new long[] {PACKING_ROWS, outFeatures}, DATA_TYPE_F32,
                new long[] {outFeatures, 1});
        MemorySegment plain = Dnnl.memoryDescCreateWithStrides(new long[] {in, outFeatures}, weightType,
                new long[] {1, in});
        MemorySegment attr = Dnnl.primitiveAttrCreate();
        MemorySegment layout = Dnnl.matmulPrimitiveDescCreate(engine, src, any, MemorySegment.NULL, dst, attr);
        Dnnl.primitiveAttrDestroy(attr);
        Dnnl.memoryDescDestroy(src);
        Dnnl.memoryDescDestroy(any);
        Dnnl.memoryDescDestroy(dst);
        MemorySegment packedDesc = Dnnl.primitiveDescQueryMd(layout, Dnnl.QUERY_WEIGHTS_MD, 0);
        // The reorder below writes every byte (oneDNN zero-pads a blocked layout's padding), so no zeroing first.
        MemorySegment packed = Libc.allocateUninitialized(Dnnl.memoryDescGetSize(packedDesc), 64, owner);
        MemorySegment reorder = Dnnl.reorderPrimitiveDescCreate(plain, engine, packedDesc, engine,
                MemorySegment.NULL);
        Dnnl.memoryDescDestroy(plain);
        try (Arena args = Arena.ofConfined()) {
            MemorySegment primitive = Dnnl.primitiveCreate(reorder);
            MemorySegment from = Dnnl.memoryCreate(Dnnl.primitiveDescQueryMd(reorder, Dnnl.QUERY_SRC_MD, 0), engine,
                    weight.memory());
            MemorySegment to = Dnnl.memoryCreate(packedDesc, engine, packed);
            MemorySegment exec = Dnnl.execArgs(args, Dnnl.ARG_FROM, from, Dnnl.ARG_TO, to);
            Dnnl.primitiveExecute(primitive, stream(), 2, exec);
            Dnnl.streamWait(stream);
            Dnnl.primitiveDestroy(primitive);
            Dnnl.memoryDestroy(from);
            Dnnl.memoryDestroy(to);
        } finally {
            Dnnl.primitiveDescDestroy(reorder);
        }
        packedWeights.put(weight.memory(), new PackedWeight(packed, layout, bf16));
        if (weight.memory().isMapped()) {
            // linear reads the packed copy from now on: drop the file pages it was copied from from resident memory
            // (they are read back from the page cache if another op, e.g. a tied embedding, touches them).
            weight.memory().unload();
        }
        return weight;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Keeps {@code host} as it is (F32, F16 or BF16, mapped or not): the convolution packs it into the layout and
     * type its primitive reads on first use ({@link #packedConvWeight}), so no F32 copy is kept beside the packed
     * one.
     */
    @Override
    public synchronized Tensor uploadConvWeight(Tensor host, Arena owner) {
        ensureOpen();
        requireHost("uploadConvWeight", host);
        floatType("uploadConvWeight", host);
        packedConvWeights.entrySet().removeIf(entry -> {
            boolean dead = !entry.getKey().scope().isAlive();
            if (dead) {
                entry.getValue().release();
            }
            return dead;
        });
        packedConvWeights.putIfAbsent(host.memory(), PackedConv.UNPACKED);
        return host;
    }

    @Override
    public void download(Tensor src, Tensor hostDst) {
        ensureOpen();
        convertInto("download", hostDst, src);
    }

    @Override
    public void copy(Tensor out, Tensor src) {
        ensureOpen();
        convertInto("copy", out, src);
    }

    private static void convertInto(String op, Tensor out, Tensor src) {
        require(out.elementCount() == src.elementCount(), op, "element counts differ", out, src);
        if (out.dtype() == src.dtype()) {
            MemorySegment.copy(src.memory(), 0, out.memory(), 0, src.byteSize());
            return;
        }
        require(out.dtype().isFloatingPoint() && src.dtype().isFloatingPoint() && out.dtype() != DType.F64
                && src.dtype() != DType.F64, op, "converts only between F32, F16 and BF16", out, src);
        ScalarKernels.convert(out.memory(), out.dtype(), 0, src.memory(), src.dtype(), 0, src.elementCount());
    }

    @Override
    public synchronized void linear(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        ensureOpen();
        checks.linear(out, x, weight, bias);
        linear(out, x, weight, bias, Epilogue.NONE);
    }

    /** One matmul with GELU as its post-op: the hidden activations are written once, already activated. */
    @Override
    public synchronized void linearGelu(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        ensureOpen();
        checks.linear(out, x, weight, bias);
        linear(out, x, weight, bias, Epilogue.GELU);
    }

    /** One matmul with a sum post-op: {@code out}'s previous values are added as the result is written. */
    @Override
    public synchronized void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        ensureOpen();
        checks.linearResidual(out, x, weight, bias);
        linear(out, x, weight, bias, Epilogue.ADD_TO_OUT);
    }

    /** What a linear's primitive does after the matmul and bias. */
    private enum Epilogue {
        NONE, GELU, ADD_TO_OUT
    }

    /**
     * {@inheritDoc}
     *
     * <p>BF16 in bf16 mode, where {@link #linear} rounds an F32 input to bf16 anyway: a BF16 {@code x} is read as it
     * is, and a BF16 {@code out} is written by the matmul directly (rounded to nearest even, as the rounding pass
     * would). Such a linear needs its weight from {@link #uploadLinearWeight}. {@link #selfAttention} and
     * {@link #channelAttention} on BF16 {@code qkv} run their matmuls on bf16 inputs (as their bf16 math mode would
     * round F32 ones to) with the scores and softmax in F32, the probabilities rounded to bf16 for the second
     * matmul, and write a BF16 {@code out}.
     */
    @Override
    public DType matmulActivationType() {
        return computeType == DType.BF16 ? DType.BF16 : DType.F32;
    }

    /**
     * Ops whose primitives are cached under a {@link DnnlPrimitiveCache.Key} (values, not objects: a decoder step
     * looks up ~150 primitives and allocates nothing).
     */
    private enum Op { LINEAR, CONVERT, LAYER_NORM, GELU, SOFTMAX, ADD, ATTENTION_SCORES, ATTENTION_VALUES }

    private void linear(Tensor out, Tensor x, Tensor weight, Tensor bias, Epilogue epilogue) {
        requireF32("linear", bias); // the primitive reads the bias as F32
        useTeam(x.byteSize() + weight.byteSize() + out.byteSize());
        long rows = x.shape().rows();
        long in = x.shape().last();
        long outFeatures = out.shape().last();
        int weightType = floatType("linear", weight);
        boolean hasBias = bias != null;
        PackedWeight found = packedWeights.get(weight.memory());
        PackedWeight packed = found != null && found.memory().scope().isAlive() ? found : null;
        // A weight packed in bf16 (every packed weight in bf16 mode): round an F32 x to bf16 first (one pass over x),
        // so the matmul runs oneDNN's bf16 kernels (AVX-512 BF16 / AMX) with f32 accumulation; a BF16 x is read as
        // it is.
        boolean bf16Input = packed != null && packed.bf16();
        boolean bf16Activations = x.dtype() == DType.BF16 || out.dtype() == DType.BF16;
        require(bf16Input || !bf16Activations, "linear", "BF16 activations need a weight packed by "
                + "uploadLinearWeight in bf16", x, out, weight);
        MemorySegment input = x.memory();
        if (bf16Input && x.dtype() == DType.F32) {
            long count = rows * in;
            input = linearInput.atLeast(count * 2);
            if (javaDecodeKernels && x.byteSize() < ONE_THREAD_BYTES) {
                // A decoder step's input (a few KB): the reorder's call would cost more than the rounding.
                VectorKernels.roundToBfloat16(input, x.memory(), count);
            } else {
                roundToBfloat16(x.memory(), input, count);
            }
        }
        boolean bf16Output = out.dtype() == DType.BF16;
        var key = cache.key(Op.LINEAR).add(rows).add(in).add(outFeatures).add(weightType).add(hasBias)
                .add(packed != null).add(bf16Input).add(epilogue.ordinal()).add(bf16Output);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = createLinear(key, rows, in, outFeatures, weightType, hasBias, packed, epilogue, bf16Input,
                    bf16Output);
        }
        MemorySegment weights = packed != null ? packed.memory() : weight.memory();
        if (hasBias) {
            primitive.execute(stream(), input, weights, bias.memory(), out.memory());
        } else {
            primitive.execute(stream(), input, weights, out.memory());
        }
    }

    /** Rounds {@code count} F32 elements of {@code from} to BF16 in {@code to} with a cached oneDNN reorder. */
    private void roundToBfloat16(MemorySegment from, MemorySegment to, long count) {
        var roundKey = cache.key(Op.CONVERT).add(count).add(Dnnl.DATA_TYPE_BF16).add(appliedTeam);
        var round = cache.find(roundKey);
        if (round == null) {
            round = cache.create(roundKey, b -> b.primitive(
                    Dnnl.reorderPrimitiveDescCreate(b.dense(DATA_TYPE_F32, count), engine,
                            b.dense(Dnnl.DATA_TYPE_BF16, count), engine, b.attr(null)),
                    Dnnl.ARG_FROM, Dnnl.ARG_TO));
        }
        round.execute(stream(), from, to);
    }

    private DnnlPrimitiveCache.Primitive createLinear(DnnlPrimitiveCache.Key key, long rows, long in,
            long outFeatures, int weightType, boolean hasBias, PackedWeight packed, Epilogue epilogue,
            boolean bf16Input, boolean bf16Output) {
        return cache.create(key, b -> {
            MemorySegment postOps = null;
            if (epilogue == Epilogue.GELU) {
                postOps = b.postOps();
                Dnnl.postOpsAppendEltwise(postOps, Dnnl.ELTWISE_GELU_ERF, 0f, 0f);
            } else if (epilogue == Epilogue.ADD_TO_OUT) {
                postOps = b.postOps();
                Dnnl.postOpsAppendSum(postOps, 1f);
            }
            // Unpacked, [outFeatures, inFeatures] row-major is the [inFeatures, outFeatures] weight matmul wants,
            // with transposed strides: no copy of the weight.
            MemorySegment pd = Dnnl.matmulPrimitiveDescCreate(engine,
                    b.dense(bf16Input ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32, rows, in),
                    packed != null ? packed.desc()
                            : b.desc(weightType, new long[] {in, outFeatures}, new long[] {1, in}),
                    hasBias ? b.dense(DATA_TYPE_F32, 1, outFeatures) : MemorySegment.NULL,
                    b.dense(bf16Output ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32, rows, outFeatures),
                    b.computeAttr(postOps));
            return hasBias
                    ? b.primitive(pd, Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_BIAS, Dnnl.ARG_DST)
                    : b.primitive(pd, Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST);
        });
    }

    @Override
    public synchronized void matmul(Tensor out, Tensor a, Tensor b) {
        ensureOpen();
        checks.matmul(out, a, b);
        requireF32("matmul", b); // the primitive reads b as F32
        useTeam(a.byteSize() + b.byteSize() + out.byteSize());
        long batch = a.shape().dim(0);
        long m = a.shape().dim(1);
        long k = a.shape().dim(2);
        long n = b.shape().dim(2);
        long batchB = b.shape().dim(0);
        var primitive = cache.get(List.of("matmul", batch, m, k, n, batchB), builder -> builder.primitive(
                Dnnl.matmulPrimitiveDescCreate(engine, builder.dense(DATA_TYPE_F32, batch, m, k),
                        builder.dense(DATA_TYPE_F32, batchB, k, n), MemorySegment.NULL,
                        builder.dense(DATA_TYPE_F32, batch, m, n), builder.computeAttr(null)),
                Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST));
        primitive.execute(stream(), a.memory(), b.memory(), out.memory());
    }

    @Override
    public synchronized void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {
        ensureOpen();
        checks.layerNorm(out, x, weight, bias);
        requireF32("layerNorm", weight, bias); // the primitive reads scale and shift as F32
        long rows = x.shape().rows();
        long width = x.shape().last();
        long bytesMoved = x.byteSize() + out.byteSize();
        if (javaDecodeKernels && bytesMoved < ONE_THREAD_BYTES && x.dtype() == DType.F32
                && out.dtype() == DType.F32) {
            // A decoder step's 19 layer norms of 3 rows: the primitive's call cost ~6 µs for 2,304 elements.
            VectorKernels.layerNormRows(out.memory(), x.memory(), weight.memory(), bias.memory(), rows, width, eps,
                    layerNormLanes);
            return;
        }
        useTeam(bytesMoved);
        // A bf16 out (the next op is a bf16 matmul) is rounded by the primitive: no separate rounding pass.
        int outType = out.dtype() == DType.BF16 ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32;
        var key = cache.key(Op.LAYER_NORM).add(rows).add(width).add(eps).add(outType);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, b -> b.primitive(
                    Dnnl.layerNormalizationForwardPrimitiveDescCreate(engine, Dnnl.FORWARD_INFERENCE,
                            b.dense(DATA_TYPE_F32, rows, width), b.dense(outType, rows, width),
                            MemorySegment.NULL, eps, Dnnl.USE_SCALE | Dnnl.USE_SHIFT, b.attr(null)),
                    Dnnl.ARG_SRC, Dnnl.ARG_SCALE, Dnnl.ARG_SHIFT, Dnnl.ARG_DST));
        }
        primitive.execute(stream(), x.memory(), weight.memory(), bias.memory(), out.memory());
    }

    @Override
    public synchronized void gelu(Tensor out, Tensor x) {
        ensureOpen();
        checks.gelu(out, x);
        useTeam(x.byteSize() + out.byteSize());
        long count = x.elementCount();
        var key = cache.key(Op.GELU).add(count);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, b -> b.primitive(
                    Dnnl.eltwiseForwardPrimitiveDescCreate(engine, Dnnl.FORWARD_INFERENCE, Dnnl.ELTWISE_GELU_ERF,
                            b.dense(DATA_TYPE_F32, count), b.dense(DATA_TYPE_F32, count), 0f, 0f, b.attr(null)),
                    Dnnl.ARG_SRC, Dnnl.ARG_DST));
        }
        primitive.execute(stream(), x.memory(), out.memory());
    }

    @Override
    public synchronized void softmax(Tensor out, Tensor x) {
        ensureOpen();
        checks.softmax(out, x);
        useTeam(x.byteSize() + out.byteSize());
        softmaxRows(x.memory(), out.memory(), x.shape().rows(), x.shape().last());
    }

    /** Softmax over the last dimension of a dense {@code [rows, width]} F32 array. */
    private void softmaxRows(MemorySegment x, MemorySegment out, long rows, long width) {
        softmaxRows(x, out, rows, width, DATA_TYPE_F32);
    }

    /** {@link #softmaxRows(MemorySegment, MemorySegment, long, long)} writing {@code out} as {@code outType}. */
    private void softmaxRows(MemorySegment x, MemorySegment out, long rows, long width, int outType) {
        var key = cache.key(Op.SOFTMAX).add(rows).add(width).add(outType).add(appliedTeam);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, b -> b.primitive(
                    Dnnl.softmaxForwardPrimitiveDescCreate(engine, Dnnl.FORWARD_INFERENCE, Dnnl.SOFTMAX_ACCURATE,
                            b.dense(DATA_TYPE_F32, rows, width), b.dense(outType, rows, width), 1,
                            b.attr(null)),
                    Dnnl.ARG_SRC, Dnnl.ARG_DST));
        }
        primitive.execute(stream(), x, out);
    }

    @Override
    public synchronized void add(Tensor out, Tensor a, Tensor b) {
        ensureOpen();
        checks.add(out, a, b);
        requireF32("add", b); // the primitive reads b as F32
        long bytesMoved = a.byteSize() + b.byteSize() + out.byteSize();
        long inner = b.elementCount();
        long outer = a.elementCount() / inner;
        if (javaDecodeKernels && bytesMoved < ONE_THREAD_BYTES) {
            // A decoder step's position add: the primitive's call cost 35-50 µs for 2,304 sums.
            ScalarKernels.addRows(out.memory(), a.memory(), b.memory(), outer, inner);
            return;
        }
        useTeam(bytesMoved);
        var key = cache.key(Op.ADD).add(outer).add(inner);
        var primitive = cache.find(key);
        if (primitive == null) {
            primitive = cache.create(key, builder -> builder.primitive(
                    Dnnl.binaryPrimitiveDescCreate(engine, Dnnl.BINARY_ADD,
                            builder.dense(DATA_TYPE_F32, outer, inner), builder.dense(DATA_TYPE_F32, 1, inner),
                            builder.dense(DATA_TYPE_F32, outer, inner), builder.attr(null)),
                    Dnnl.ARG_SRC, Dnnl.ARG_SRC_1, Dnnl.ARG_DST));
        }
        primitive.execute(stream(), a.memory(), b.memory(), out.memory());
    }

    @Override
    public synchronized void selfAttention(Tensor out, Tensor qkv, int heads, float scale) {
        ensureOpen();
        checks.selfAttention(out, qkv, heads);
        useTeam(qkv.byteSize() + out.byteSize());
        int batch = qkv.shape().dim(0);
        long tokens = qkv.shape().dim(1);
        long channels = out.shape().last();
        long qkvRow = 3 * channels;
        long elementBytes = qkv.dtype().byteSize();
        // Each batch row is one attention group of `tokens` queries over `tokens` keys.
        attend(attention.set(batch, heads, channels / heads, tokens, tokens, tokens * qkvRow, qkvRow,
                        tokens * qkvRow, qkvRow, tokens * channels, channels, scale, AttentionMask.none(), tokens)
                        .activations(qkv.dtype()),
                qkv.memory(), 0, qkv.memory(), channels * elementBytes, qkv.memory(), 2 * channels * elementBytes,
                out.memory());
    }

    @Override
    public synchronized void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads,
            float scale, AttentionMask mask) {
        ensureOpen();
        checks.attention(out, q, k, v, kvTokens, heads, mask);
        attendKeyRows(out, q, k, v, kvTokens, heads, scale, mask, k.shape().dim(1), false);
    }

    /**
     * {@inheritDoc}
     *
     * <p>In bf16 mode with the Java decode kernels ({@link #JAVA_DECODE_KERNELS_PROPERTY}) it reads bf16 copies of
     * {@code keysT} and {@code valuesHM} that it packs on its first call after {@link #transposeKeys} and
     * {@link #headMajorValues} wrote them ({@link PackedCrossAttention}): F32 attention over bf16 keys and values,
     * in Java on the OpenMP team's threads.
     */
    @Override
    public synchronized void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor v, int kvTokens,
            int heads, float scale) {
        ensureOpen();
        checks.attentionTransposedKeys(out, q, keysT, v, kvTokens, heads);
        Shape ks = keysT.shape();
        // A single key is a copy (attend); the packed path reads F32 queries and writes F32.
        if (packsCrossAttention() && kvTokens > 1 && q.dtype() == DType.F32 && out.dtype() == DType.F32) {
            int kvBatch = ks.dim(0);
            int rows = q.shape().dim(0) / kvBatch * q.shape().dim(1);
            useTeam(q.byteSize() + out.byteSize() + 2L * kvBatch * kvTokens * ks.dim(1) * Short.BYTES);
            packedCrossAttention.run(stream(), out.memory(), q.memory(), keysT.memory(), v.memory(), kvBatch, rows,
                    heads, ks.dim(1) / heads, kvTokens, ks.dim(2), scale, appliedTeam);
            return;
        }
        attendKeyRows(out, q, keysT, v, kvTokens, heads, scale, AttentionMask.none(), ks.dim(2), true);
    }

    /**
     * Whether {@link #attentionTransposedKeys} reads bf16 packed copies of its keys and values: in bf16 mode with the
     * Java decode kernels, i.e. not in the launcher's one-shot runs ({@link #JAVA_DECODE_KERNELS_PROPERTY}), whose
     * resident memory the copies (11.5 MB per image for base) would grow for a gain of a few milliseconds.
     */
    private boolean packsCrossAttention() {
        return computeType == DType.BF16 && javaDecodeKernels;
    }

    /**
     * {@link #attention} and {@link #attentionTransposedKeys}: {@code k} and {@code v} are {@code [kvBatch, capacity,
     * channels]}, or, when {@code crossLayout}, {@code k} is {@code [kvBatch, channels, capacity]} and {@code v}
     * {@code [kvBatch, heads, capacity, headDim]}.
     */
    private void attendKeyRows(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale,
            AttentionMask mask, long capacity, boolean crossLayout) {
        Shape qs = q.shape();
        int kvBatch = k.shape().dim(0);
        long queryTokens = qs.dim(1);
        long channels = qs.last();
        // The queries of every batch row sharing one K/V row are contiguous: one group of
        // (batch / kvBatch) · queryTokens query rows per K/V row.
        long groupRows = (qs.dim(0) / kvBatch) * queryTokens;
        long kvRowStride = capacity * channels;
        // A causal mask hides every key after the last query's position anyway, so the keys are read up to a
        // multiple of CAUSAL_KEY_BUCKET (within the capacity) and the extra ones masked like the rest: a decoder
        // then creates one set of primitives per bucket instead of one per position (1,024 positions made ~3,000
        // JIT-compiled matmuls on a request's first long generation).
        int keyRows = mask.causal()
                ? (int) Math.min(capacity, (kvTokens + CAUSAL_KEY_BUCKET - 1) / CAUSAL_KEY_BUCKET * CAUSAL_KEY_BUCKET)
                : kvTokens;
        // From the rows read, not kvTokens: the primitives are cached by keyRows, and must always run on one team.
        useTeam(q.byteSize() + out.byteSize() + 2L * kvBatch * keyRows * channels * Float.BYTES);
        Attention problem = attention.set(kvBatch, heads, channels / heads, groupRows, keyRows,
                groupRows * channels, channels, kvRowStride, channels, groupRows * channels, channels, scale, mask,
                queryTokens);
        attend(crossLayout ? problem.crossLayout(capacity) : problem, q.memory(), 0, k.memory(), 0,
                v.memory(), 0, out.memory());
    }

    @Override
    public synchronized void transposeKeys(Tensor keysT, Tensor keys) {
        ensureOpen();
        checks.transposeKeys(keysT, keys);
        Shape ks = keys.shape();
        long tokens = ks.dim(1);
        long channels = ks.dim(2);
        long capacity = keysT.shape().dim(2);
        relayout("transposeKeys", keysT, keys, new long[] {ks.dim(0), tokens, channels},
                new long[] {tokens * channels, channels, 1}, new long[] {channels * capacity, 1, capacity});
        if (packsCrossAttention()) {
            packedCrossAttention.invalidate(keysT.memory(), ks.dim(0), channels * capacity * Float.BYTES);
        }
    }

    @Override
    public synchronized void headMajorValues(Tensor valuesHM, Tensor values) {
        ensureOpen();
        checks.headMajorValues(valuesHM, values);
        Shape hs = valuesHM.shape();
        long heads = hs.dim(1);
        long capacity = hs.dim(2);
        long headDim = hs.dim(3);
        long tokens = values.shape().dim(1);
        relayout("headMajorValues", valuesHM, values, new long[] {hs.dim(0), heads, tokens, headDim},
                new long[] {tokens * heads * headDim, headDim, heads * headDim, 1},
                new long[] {heads * capacity * headDim, capacity * headDim, headDim, 1});
        if (packsCrossAttention()) {
            packedCrossAttention.invalidate(valuesHM.memory(), hs.dim(0), heads * capacity * headDim * Float.BYTES);
        }
    }

    /**
     * Copies F32 {@code from} into {@code to} by a oneDNN reorder between two strided views of the same
     * {@code dims}: token rows into the layouts cross-attention reads (once per image and layer, not per step).
     */
    private void relayout(String op, Tensor to, Tensor from, long[] dims, long[] fromStrides, long[] toStrides) {
        useTeam(from.byteSize() * 2);
        var key = List.of(op, Arrays.toString(dims), Arrays.toString(fromStrides), Arrays.toString(toStrides));
        var primitive = cache.get(key, b -> b.primitive(
                Dnnl.reorderPrimitiveDescCreate(b.desc(DATA_TYPE_F32, dims, fromStrides), engine,
                        b.desc(DATA_TYPE_F32, dims, toStrides), engine, b.attr(null)),
                Dnnl.ARG_FROM, Dnnl.ARG_TO));
        primitive.execute(stream(), from.memory(), to.memory());
    }

    /**
     * One attention problem in strides (elements): {@code groups} independent groups, each {@code queryRows}
     * queries over {@code keyRows} keys, per head. Mutable, and the backend keeps one ({@link #attention}; ops are
     * serialised): a decoder step runs 12 attentions, and a new problem object per call was part of its allocation.
     *
     * <p>{@code queryGroupStride}: elements between groups in q (their row stride is {@code queryRowStride});
     * {@code keyGroupStride}: between groups in k and v; {@code outGroupStride}: in out; {@code queryTokens}: query
     * tokens per batch row (the causal position of query row r is r mod this). The fields are package-visible because
     * {@link SmallAttention} runs the same problem.
     */
    static final class Attention {
        int groups;
        long heads;
        long headDim;
        long queryRows;
        long keyRows;
        long queryGroupStride;
        long queryRowStride;
        long keyGroupStride;
        long keyRowStride;
        long keyHeadStride; // the keys' strides in q·kᵀ: between heads, head dimensions and tokens
        long keyDimStride;
        long keyTokenStride;
        long valueHeadStride; // the values' strides in p·v: between heads and tokens
        long valueRowStride;
        int dataType; // of q, k, v and out: F32, or BF16 (then the probabilities are BF16 too)
        long elementBytes;
        long outGroupStride;
        long outRowStride;
        float scale;
        AttentionMask mask;
        long queryTokens;

        Attention set(int groups, long heads, long headDim, long queryRows, long keyRows, long queryGroupStride,
                long queryRowStride, long keyGroupStride, long keyRowStride, long outGroupStride, long outRowStride,
                float scale, AttentionMask mask, long queryTokens) {
            this.groups = groups;
            this.heads = heads;
            this.headDim = headDim;
            this.queryRows = queryRows;
            this.keyRows = keyRows;
            this.queryGroupStride = queryGroupStride;
            this.queryRowStride = queryRowStride;
            this.keyGroupStride = keyGroupStride;
            this.keyRowStride = keyRowStride;
            this.outGroupStride = outGroupStride;
            this.outRowStride = outRowStride;
            this.scale = scale;
            this.mask = mask;
            this.queryTokens = queryTokens;
            this.keyHeadStride = headDim;
            this.keyDimStride = 1;
            this.keyTokenStride = keyRowStride;
            this.valueHeadStride = headDim;
            this.valueRowStride = keyRowStride;
            this.dataType = DATA_TYPE_F32;
            this.elementBytes = Float.BYTES;
            return this;
        }

        /** Reads q, k, v and writes out as {@code dtype} (F32 or BF16; strides stay in elements). */
        Attention activations(DType dtype) {
            this.dataType = dtype == DType.BF16 ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32;
            this.elementBytes = dtype.byteSize();
            return this;
        }

        /**
         * Reads the keys as {@code [groups, channels, capacity]} (heads outermost in channels) and the values as
         * {@code [groups, heads, capacity, headDim]} instead of token rows; the group stride is the same
         * {@code channels · capacity}.
         */
        Attention crossLayout(long capacity) {
            this.keyHeadStride = headDim * capacity;
            this.keyDimStride = capacity;
            this.keyTokenStride = 1;
            this.valueHeadStride = headDim * capacity;
            this.valueRowStride = headDim;
            return this;
        }

        /**
         * The cache key of one pass's primitive over {@code passHeads} heads of {@code count} groups: the geometry
         * (not the mask).
         */
        DnnlPrimitiveCache.Key key(DnnlPrimitiveCache cache, Op op, long count, long passHeads) {
            return cache.key(op).add(count).add(passHeads).add(headDim).add(queryRows).add(keyRows)
                    .add(queryGroupStride).add(queryRowStride).add(keyGroupStride).add(keyRowStride)
                    .add(outGroupStride).add(outRowStride).add(scale).add(keyHeadStride).add(keyDimStride)
                    .add(keyTokenStride).add(valueHeadStride).add(valueRowStride).add(dataType);
        }
    }

    /**
     * Whether {@link #attend} runs a decoder step's F32 attention in Java, which would read {@code bytes}: see
     * {@link #TEAM_ATTENTION_BYTES}.
     */
    private boolean runsInJava(Attention a, long bytes, MemorySegment k, MemorySegment v) {
        return bytes <= smallAttentionBytes || a.queryRows == 1 && bytes <= teamAttentionBytes && parallelTeam > 1
                && SmallAttention.readableByTeam(k, v);
    }

    private void attend(Attention a, MemorySegment q, long qByteOffset, MemorySegment k, long kByteOffset,
            MemorySegment v, long vByteOffset, MemorySegment out) {
        if (a.keyRows == 1) {
            copySingleValue(a, v, vByteOffset, out);
            return;
        }
        if (javaDecodeKernels && a.dataType == DATA_TYPE_F32 && a.queryTokens == 1) {
            long javaBytes = SmallAttention.bytesRead(a);
            if (runsInJava(a, javaBytes, k, v)) {
                int threads = javaBytes < teamAttentionMinBytes ? 1 : parallelTeam;
                smallAttention.run(a, q, qByteOffset, k, kByteOffset, v, vByteOffset, out, threads);
                return;
            }
        }
        // A pass covers whole groups while one group's scores fit the chunk, else some heads of one group (the
        // encoder's 12 heads × 577² scores are 16 MB for its single group).
        long scoresPerHead = a.queryRows * a.keyRows;
        long scoresPerGroup = a.heads * scoresPerHead;
        int chunk;
        long headsPerPass;
        if (scoresPerGroup * 4 <= SCORES_CHUNK_BYTES) {
            int passes = (int) Math.max(1, Math.min(a.groups,
                    (scoresPerGroup * 4 * a.groups + SCORES_CHUNK_BYTES - 1) / SCORES_CHUNK_BYTES));
            chunk = (a.groups + passes - 1) / passes;
            headsPerPass = a.heads;
        } else {
            long headPasses = Math.min(a.heads, (scoresPerGroup * 4 + SCORES_CHUNK_BYTES - 1) / SCORES_CHUNK_BYTES);
            chunk = 1;
            headsPerPass = (a.heads + headPasses - 1) / headPasses;
        }
        long scoresPerPass = chunk * headsPerPass * scoresPerHead;
        // The whole scratch serves every pass: a primitive only checks that its argument is large enough.
        MemorySegment scores = scratch(scoresPerPass * 4);
        // BF16 activations: the probabilities go to the values matmul in bf16 too (oneDNN reads both inputs of a
        // matmul in one type), which its fpmath mode would round them to anyway.
        int probabilityType = a.dataType;
        MemorySegment probabilities = probabilityType == DATA_TYPE_F32 ? scores
                : attentionProbabilities.atLeast(scoresPerPass * a.elementBytes);
        for (int first = 0; first < a.groups; first += chunk) {
            long count = Math.min(chunk, a.groups - first);
            for (long firstHead = 0; firstHead < a.heads; firstHead += headsPerPass) {
                long heads = Math.min(headsPerPass, a.heads - firstHead);
                attendPass(a, count, heads, scores, probabilities,
                        from(q, qByteOffset + (first * a.queryGroupStride + firstHead * a.headDim) * a.elementBytes),
                        from(k, kByteOffset + (first * a.keyGroupStride + firstHead * a.keyHeadStride)
                                * a.elementBytes),
                        from(v, vByteOffset + (first * a.keyGroupStride + firstHead * a.valueHeadStride)
                                * a.elementBytes),
                        from(out, (first * a.outGroupStride + firstHead * a.headDim) * a.elementBytes));
            }
        }
    }

    /** One pass of {@link #attend}: {@code heads} heads of {@code count} groups, from the given starts. */
    private void attendPass(Attention a, long count, long heads, MemorySegment scores, MemorySegment probabilities,
            MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out) {
        int probabilityType = a.dataType;
        var scoresKey = a.key(cache, Op.ATTENTION_SCORES, count, heads);
        var scoresPrimitive = cache.find(scoresKey);
        if (scoresPrimitive == null) {
            scoresPrimitive = cache.create(scoresKey, b -> {
                MemorySegment postOps = b.postOps();
                Dnnl.postOpsAppendEltwise(postOps, Dnnl.ELTWISE_LINEAR, a.scale, 0f);
                return b.primitive(Dnnl.matmulPrimitiveDescCreate(engine,
                        b.desc(a.dataType, new long[] {count, heads, a.queryRows, a.headDim},
                                new long[] {a.queryGroupStride, a.headDim, a.queryRowStride, 1}),
                        b.desc(a.dataType, new long[] {count, heads, a.headDim, a.keyRows},
                                new long[] {a.keyGroupStride, a.keyHeadStride, a.keyDimStride, a.keyTokenStride}),
                        MemorySegment.NULL,
                        b.dense(DATA_TYPE_F32, count, heads, a.queryRows, a.keyRows), b.computeAttr(postOps)),
                        Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST);
            });
        }
        scoresPrimitive.execute(stream(), q, k, scores);
        if (a.mask.causal()) {
            maskCausal(scores, count * heads, a);
        }
        softmaxRows(scores, probabilities, count * heads * a.queryRows, a.keyRows, probabilityType);
        var valuesKey = a.key(cache, Op.ATTENTION_VALUES, count, heads);
        var valuesPrimitive = cache.find(valuesKey);
        if (valuesPrimitive == null) {
            valuesPrimitive = cache.create(valuesKey, b -> b.primitive(
                    Dnnl.matmulPrimitiveDescCreate(engine,
                            b.dense(probabilityType, count, heads, a.queryRows, a.keyRows),
                            b.desc(a.dataType, new long[] {count, heads, a.keyRows, a.headDim},
                                    new long[] {a.keyGroupStride, a.valueHeadStride, a.valueRowStride, 1}),
                            MemorySegment.NULL,
                            b.desc(a.dataType, new long[] {count, heads, a.queryRows, a.headDim},
                                    new long[] {a.outGroupStride, a.headDim, a.outRowStride, 1}),
                            b.computeAttr(null)),
                    Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST));
        }
        valuesPrimitive.execute(stream(), probabilities, v, out);
    }

    /** {@code segment} from {@code byteOffset} on; the segment itself at offset 0 (no slice object per call). */
    private static MemorySegment from(MemorySegment segment, long byteOffset) {
        return byteOffset == 0 ? segment : segment.asSlice(byteOffset);
    }

    /**
     * Attention over a single key (the decoder's first step; the key is visible under either mask): the softmax
     * of one score is exactly 1, so every query row of a group gets that key's value row, which is what the
     * reference computes. Done as a copy because oneDNN 3.13's brgemm matmul reads the p·v weights with the wrong
     * stride when K == 1 and the weights are not dense (a batch of K/V rows over a cache with capacity > 1):
     * uxlfoundation/oneDNN#6015, "fix copy-B stride for transposed B with K == 1".
     */
    private static void copySingleValue(Attention a, MemorySegment v, long vByteOffset, MemorySegment out) {
        long headBytes = a.headDim * a.elementBytes;
        for (long group = 0; group < a.groups; group++) {
            for (long head = 0; head < a.heads; head++) {
                long valueByteOffset = vByteOffset + (group * a.keyGroupStride + head * a.valueHeadStride)
                        * a.elementBytes;
                for (long row = 0; row < a.queryRows; row++) {
                    MemorySegment.copy(v, valueByteOffset, out,
                            (group * a.outGroupStride + row * a.outRowStride + head * a.headDim) * a.elementBytes,
                            headBytes);
                }
            }
        }
    }

    /** Hides keys after each query's absolute position (pastTokens + its token index) before the softmax. */
    private static void maskCausal(MemorySegment scores, long matrices, Attention a) {
        for (long matrix = 0; matrix < matrices; matrix++) {
            for (long row = 0; row < a.queryRows; row++) {
                long lastVisible = a.mask.pastTokens() + row % a.queryTokens;
                long hidden = a.keyRows - 1 - lastVisible;
                if (hidden > 0) {
                    ScalarKernels.fillNegativeInfinity(scores, (matrix * a.queryRows + row) * a.keyRows
                            + lastVisible + 1, hidden);
                }
            }
        }
    }

    @Override
    public synchronized void channelAttention(Tensor out, Tensor qkv, int groups, float scale) {
        ensureOpen();
        checks.channelAttention(out, qkv, groups);
        useTeam(qkv.byteSize() + out.byteSize());
        long batch = qkv.shape().dim(0);
        long tokens = qkv.shape().dim(1);
        long channels = out.shape().last();
        long groupChannels = channels / groups;
        long qkvBatch = tokens * 3 * channels;
        long qkvRow = 3 * channels;
        int dataType = qkv.dtype() == DType.BF16 ? Dnnl.DATA_TYPE_BF16 : DATA_TYPE_F32;
        long elementBytes = qkv.dtype().byteSize();
        long attnElements = batch * groups * groupChannels * groupChannels;
        MemorySegment scores = scratch(attnElements * 4);
        // BF16 activations: attn goes to the values matmul in bf16 too, as in attend().
        MemorySegment attn = dataType == DATA_TYPE_F32 ? scores : attentionProbabilities.atLeast(attnElements * 2);
        // attn = softmax((q·scale)ᵀ·k): [groupChannels, tokens] x [tokens, groupChannels] per batch and group.
        var scoresPrimitive = cache.get(List.of("channelScores", batch, tokens, channels, groups, scale, dataType),
                b -> {
            MemorySegment postOps = b.postOps();
            Dnnl.postOpsAppendEltwise(postOps, Dnnl.ELTWISE_LINEAR, scale, 0f);
            return b.primitive(Dnnl.matmulPrimitiveDescCreate(engine,
                    b.desc(dataType, new long[] {batch, groups, groupChannels, tokens},
                            new long[] {qkvBatch, groupChannels, 1, qkvRow}),
                    b.desc(dataType, new long[] {batch, groups, tokens, groupChannels},
                            new long[] {qkvBatch, groupChannels, qkvRow, 1}),
                    MemorySegment.NULL,
                    b.dense(DATA_TYPE_F32, batch, groups, groupChannels, groupChannels), b.computeAttr(postOps)),
                    Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST);
        });
        MemorySegment qkvMemory = qkv.memory();
        scoresPrimitive.execute(stream(), qkvMemory, qkvMemory.asSlice(channels * elementBytes), scores);
        softmaxRows(scores, attn, batch * groups * groupChannels, groupChannels, dataType);
        // out = (attn·vᵀ)ᵀ = v·attnᵀ: [tokens, groupChannels] x [groupChannels, groupChannels].
        var valuesPrimitive = cache.get(List.of("channelValues", batch, tokens, channels, groups, dataType),
                b -> b.primitive(Dnnl.matmulPrimitiveDescCreate(engine,
                        b.desc(dataType, new long[] {batch, groups, tokens, groupChannels},
                                new long[] {qkvBatch, groupChannels, qkvRow, 1}),
                        b.desc(dataType, new long[] {batch, groups, groupChannels, groupChannels},
                                new long[] {groups * groupChannels * groupChannels, groupChannels * groupChannels,
                                        1, groupChannels}),
                        MemorySegment.NULL,
                        b.desc(dataType, new long[] {batch, groups, tokens, groupChannels},
                                new long[] {tokens * channels, groupChannels, channels, 1}),
                        b.computeAttr(null)),
                Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST));
        valuesPrimitive.execute(stream(), qkvMemory.asSlice(2 * channels * elementBytes), attn, out.memory());
    }

    @Override
    public synchronized void windowPartition(Tensor out, Tensor x, int height, int width, int window) {
        ensureOpen();
        checks.windowPartition(out, x, height, width, window);
        WindowGrid.of(x, height, width, window).copy(out.memory(), x.memory(), true);
    }

    @Override
    public synchronized void windowReverse(Tensor out, Tensor windows, int height, int width, int window) {
        ensureOpen();
        checks.windowReverse(out, windows, height, width, window);
        WindowGrid.of(out, height, width, window).copy(windows.memory(), out.memory(), false);
    }

    /** The window layout of a feature map {@code [batch, height·width, channels]} of any dtype. */
    private record WindowGrid(int batch, int height, int width, int window, long pixelBytes) {
        static WindowGrid of(Tensor map, int height, int width, int window) {
            return new WindowGrid(map.shape().dim(0), height, width, window,
                    (long) map.shape().last() * map.dtype().byteSize());
        }

        /**
         * Copies every window row between the two layouts; with {@code toWindows} the padding rows and columns
         * of the windows are zeroed, otherwise they are dropped (the crop).
         */
        void copy(MemorySegment windows, MemorySegment map, boolean toWindows) {
            int down = (height + window - 1) / window;
            int across = (width + window - 1) / window;
            long windowRowBytes = window * pixelBytes;
            for (int b = 0; b < batch; b++) {
                for (int wy = 0; wy < down; wy++) {
                    for (int wx = 0; wx < across; wx++) {
                        long windowIndex = ((long) b * down + wy) * across + wx;
                        int x0 = wx * window;
                        long validBytes = Math.min(window, width - x0) * pixelBytes;
                        for (int ty = 0; ty < window; ty++) {
                            int y = wy * window + ty;
                            long windowOffset = (windowIndex * window + ty) * windowRowBytes;
                            if (y >= height) {
                                if (toWindows) {
                                    windows.asSlice(windowOffset, windowRowBytes).fill((byte) 0);
                                }
                                continue;
                            }
                            long mapOffset = (((long) b * height + y) * width + x0) * pixelBytes;
                            if (toWindows) {
                                MemorySegment.copy(map, mapOffset, windows, windowOffset, validBytes);
                                if (validBytes < windowRowBytes) {
                                    windows.asSlice(windowOffset + validBytes, windowRowBytes - validBytes)
                                            .fill((byte) 0);
                                }
                            } else {
                                MemorySegment.copy(windows, windowOffset, map, mapOffset, validBytes);
                            }
                        }
                    }
                }
            }
        }
    }

    @Override
    public synchronized void conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias,
            int stride, int padding) {
        ensureOpen();
        OpChecks.Conv2dSize size = checks.conv2d(out, x, height, width, weight, bias, stride, padding);
        requireF32("conv2d", bias); // the primitive reads the bias as F32
        useTeam(x.byteSize() + weight.byteSize() + out.byteSize());
        Shape ws = weight.shape();
        convolution("conv2d", new Convolution(x.shape().dim(0), ws.dim(1), height, width, ws.dim(0),
                size.outHeight(), size.outWidth(), size.kernel(), stride, padding, 1, bias != null, false,
                floatType("conv2d", weight), floatType("conv2d", x)), out, x, weight, bias);
    }

    @Override
    public synchronized void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight,
            Tensor bias) {
        ensureOpen();
        checks.depthwiseConv3x3Residual(out, x, height, width, weight, bias);
        requireF32("depthwiseConv3x3Residual", bias); // the primitive reads the bias as F32
        useTeam(x.byteSize() + weight.byteSize() + out.byteSize());
        int channels = x.shape().last();
        convolution("depthwiseConv3x3Residual", new Convolution(x.shape().dim(0), channels, height, width, channels,
                height, width, 3, 1, 1, channels, true, true, floatType("depthwiseConv3x3Residual", weight),
                DATA_TYPE_F32), out, x, weight, bias);
    }

    /**
     * One convolution's geometry; {@code residual} adds the input to the output (a binary post-op). {@code srcType}
     * is the input's and the packed weight's dtype ({@code weightType} the stored weight's): oneDNN's F32
     * convolution kernels ignore the bf16 fpmath mode, so bf16 mode runs its bf16 kernels only on a bf16 input.
     */
    private record Convolution(long batch, long inChannels, long height, long width, long outChannels,
            long outHeight, long outWidth, long kernel, long stride, long padding, long groups, boolean hasBias,
            boolean residual, int weightType, int srcType) {
        long[] userWeightDims() {
            return groups == 1 ? new long[] {outChannels, inChannels, kernel, kernel}
                    : new long[] {groups, outChannels / groups, inChannels / groups, kernel, kernel};
        }
    }

    /**
     * Runs a convolution on token-major (NHWC) maps. The weight is given in PyTorch's plain layout; the primitive
     * picks its own ({@code any}), into which the weight is packed once ({@link #packedConvWeight}).
     */
    private void convolution(String op, Convolution c, Tensor out, Tensor x, Tensor weight, Tensor bias) {
        var conv = cache.get(List.of(op, c), b -> b.primitive(convolutionDesc(b, c), c.residual()
                ? new int[] {Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_BIAS, Dnnl.ARG_DST, Dnnl.argPostOpSrc1(0)}
                : c.hasBias() ? new int[] {Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_BIAS, Dnnl.ARG_DST}
                : new int[] {Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST}));
        MemorySegment packed = packedConvWeight(op, c, weight);
        MemorySegment xMemory = x.memory();
        if (c.residual()) {
            conv.execute(stream(), xMemory, packed, bias.memory(), out.memory(), xMemory);
        } else if (c.hasBias()) {
            conv.execute(stream(), xMemory, packed, bias.memory(), out.memory());
        } else {
            conv.execute(stream(), xMemory, packed, out.memory());
        }
    }

    /**
     * {@code weight} in the layout convolution {@code c} chose. A weight from {@link #uploadConvWeight} is packed on
     * its first use and kept (packing on every call cost a pass over the weights and a scratch as big as the
     * largest, 18.9 MB on base), and packed again only for a geometry whose primitive wants another layout; any
     * other weight may change between calls, so it is packed into backend scratch on each.
     */
    private MemorySegment packedConvWeight(String op, Convolution c, Tensor weight) {
        ConvLayout layout = convLayouts.get(c);
        if (layout == null) {
            // The weight layout the convolution chose, from a twin of its descriptor, kept to compare packed copies.
            MemorySegment layoutPd;
            DnnlPrimitiveCache.Primitive repack;
            try (DnnlPrimitiveCache.Builder b = cache.builder()) {
                layoutPd = convolutionDesc(b, c);
                MemorySegment chosen = Dnnl.primitiveDescQueryMd(layoutPd, Dnnl.QUERY_WEIGHTS_MD, 0);
                repack = cache.pinned(List.of(op + "Weights", c), rb -> rb.primitive(Dnnl.reorderPrimitiveDescCreate(
                        rb.dense(c.weightType(), c.userWeightDims()), engine, chosen, engine, rb.attr(null)),
                        Dnnl.ARG_FROM, Dnnl.ARG_TO));
            }
            layout = new ConvLayout(layoutPd, repack);
            convLayouts.put(c, layout);
        }
        long bytes = layout.repack().argByteSize(1);
        PackedConv packed = packedConvWeights.get(weight.memory());
        if (packed == null) {
            MemorySegment perCall = scratch(bytes).asSlice(0, bytes);
            layout.repack().execute(stream(), weight.memory(), perCall);
            return perCall;
        }
        if (packed.layout() != null && (packed.layout() == layout
                || Dnnl.memoryDescEqual(packed.layout().weightsDesc(), layout.weightsDesc()))) {
            return packed.memory();
        }
        packed.release();
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(bytes, 64);
        layout.repack().execute(stream(), weight.memory(), memory);
        packedConvWeights.put(weight.memory(), new PackedConv(layout, arena, memory));
        if (weight.memory().isMapped()) {
            // The convolution reads the packed copy from now on: drop the file pages it was packed from.
            weight.memory().unload();
        }
        return memory;
    }

    /** The weight layout a convolution geometry chose: its twin primitive descriptor and the reorder into it. */
    private record ConvLayout(MemorySegment primitiveDesc, DnnlPrimitiveCache.Primitive repack) {
        MemorySegment weightsDesc() {
            return Dnnl.primitiveDescQueryMd(primitiveDesc, Dnnl.QUERY_WEIGHTS_MD, 0);
        }
    }

    /**
     * An uploaded convolution weight's packed copy for {@code layout}, in its own arena so that it can be freed
     * alone; {@link #UNPACKED} (all null) until its first convolution.
     */
    private record PackedConv(ConvLayout layout, Arena arena, MemorySegment memory) {
        static final PackedConv UNPACKED = new PackedConv(null, null, null);

        void release() {
            if (arena != null) {
                arena.close();
            }
        }
    }

    /** The convolution's primitive descriptor: NHWC maps, weights in the layout oneDNN prefers. */
    private MemorySegment convolutionDesc(DnnlPrimitiveCache.Builder b, Convolution c) {
        MemorySegment src = nhwc(b, c.srcType(), c.batch(), c.inChannels(), c.height(), c.width());
        MemorySegment postOps = null;
        if (c.residual()) {
            postOps = b.postOps();
            Dnnl.postOpsAppendBinary(postOps, Dnnl.BINARY_ADD, src);
        }
        long[] padding = {c.padding(), c.padding()};
        return Dnnl.convolutionForwardPrimitiveDescCreate(engine, Dnnl.FORWARD_INFERENCE, Dnnl.CONVOLUTION_DIRECT,
                src, b.any(c.srcType(), c.userWeightDims()),
                c.hasBias() ? b.dense(DATA_TYPE_F32, c.outChannels()) : MemorySegment.NULL,
                nhwc(b, DATA_TYPE_F32, c.batch(), c.outChannels(), c.outHeight(), c.outWidth()),
                new long[] {c.stride(), c.stride()}, new long[] {0, 0}, padding, padding, b.computeAttr(postOps));
    }

    /** A {@code [batch, channels, height, width]} descriptor of {@code dataType} over token-major (NHWC) memory. */
    private static MemorySegment nhwc(DnnlPrimitiveCache.Builder b, int dataType, long batch, long channels,
            long height, long width) {
        return b.desc(dataType, new long[] {batch, channels, height, width},
                new long[] {height * width * channels, 1, width * channels, channels});
    }

    @Override
    public synchronized void channelsLast(Tensor out, Tensor x) {
        ensureOpen();
        checks.channelsLast(out, x);
        useTeam(x.byteSize() + out.byteSize());
        Shape s = x.shape();
        long batch = s.dim(0);
        long channels = s.dim(1);
        long height = s.dim(2);
        long width = s.dim(3);
        var primitive = cache.get(List.of("channelsLast", batch, channels, height, width), b -> b.primitive(
                Dnnl.reorderPrimitiveDescCreate(b.dense(DATA_TYPE_F32, batch, channels, height, width), engine,
                        nhwc(b, DATA_TYPE_F32, batch, channels, height, width), engine, b.attr(null)),
                Dnnl.ARG_FROM, Dnnl.ARG_TO));
        primitive.execute(stream(), x.memory(), out.memory());
    }

    /**
     * A batched matmul of a row of {@code 1/tokens} with each image's tokens: oneDNN's compiled kernel from the first
     * call on (a Java Vector API loop ran interpreted on a process's first requests: 12 ms for 576 × 1024, once per
     * image). F32 math whatever the compute type: it is a mean, not a matmul of weights.
     */
    @Override
    public synchronized void meanTokens(Tensor out, Tensor x) {
        ensureOpen();
        checks.meanTokens(out, x);
        useTeam(x.byteSize() + out.byteSize());
        Shape s = x.shape();
        long batch = s.dim(0);
        long tokens = s.dim(1);
        long channels = s.dim(2);
        MemorySegment row = meanRow.atLeast(tokens * Float.BYTES);
        if (meanRowTokens != tokens) {
            for (long t = 0; t < tokens; t++) {
                row.setAtIndex(ValueLayout.JAVA_FLOAT, t, 1f / tokens);
            }
            meanRowTokens = tokens;
        }
        var primitive = cache.get(List.of("meanTokens", batch, tokens, channels), b -> b.primitive(
                Dnnl.matmulPrimitiveDescCreate(engine, b.dense(DATA_TYPE_F32, 1, 1, tokens),
                        b.dense(DATA_TYPE_F32, batch, tokens, channels), MemorySegment.NULL,
                        b.dense(DATA_TYPE_F32, batch, 1, channels), b.attr(null)),
                Dnnl.ARG_SRC, Dnnl.ARG_WEIGHTS, Dnnl.ARG_DST));
        primitive.execute(stream(), row, x.memory(), out.memory());
    }

    @Override
    public synchronized void embedding(Tensor out, Tensor table, Tensor ids) {
        ensureOpen();
        Shape is = ids.shape();
        require(table.shape().rank() == 2 && is.rank() == 2 && (ids.dtype() == DType.I32 || ids.dtype() == DType.I64)
                && isShape(out.shape(), is.dim(0), is.dim(1), table.shape().dim(1)), "embedding",
                "expected out [batch, tokens, channels], table [vocabulary, channels], ids I32 [batch, tokens]",
                out, table, ids);
        requireF32("embedding", out);
        int vocabulary = table.shape().dim(0);
        long channels = table.shape().dim(1);
        MemorySegment idMemory = ids.memory();
        MemorySegment tableMemory = table.memory();
        MemorySegment outMemory = out.memory();
        for (long i = 0; i < ids.elementCount(); i++) {
            long id = ids.dtype() == DType.I32 ? idMemory.getAtIndex(I32, i) : idMemory.getAtIndex(I64, i);
            if (id < 0 || id >= vocabulary) {
                throw new IllegalArgumentException("embedding: id " + id + " at position " + i
                        + " is outside the vocabulary [0, " + vocabulary + ") of table " + table.shape());
            }
            ScalarKernels.convert(outMemory, DType.F32, i * channels, tableMemory, table.dtype(), id * channels,
                    channels);
        }
        if (tableMemory.isMapped() && tableMemory.byteSize() >= UNLOADED_TABLE_BYTES) {
            dropPagesPeriodically(tableMemory);
        }
    }

    /**
     * Counts a lookup in the large mapped {@code table} and drops its file pages every
     * {@link #LOOKUPS_PER_UNLOAD} lookups; a lookup in another table first drops the previous table's pages, so
     * tables used in turn stay bounded too.
     */
    private void dropPagesPeriodically(MemorySegment table) {
        if (table != countedTable) {
            if (countedTable.isMapped() && countedTable.scope().isAlive()) {
                countedTable.unload();
            }
            countedTable = table;
            lookupsSinceUnload = 0;
        }
        if (++lookupsSinceUnload >= LOOKUPS_PER_UNLOAD) {
            table.unload();
            lookupsSinceUnload = 0;
        }
    }

    @Override
    public synchronized void concatTokens(Tensor out, Tensor a, Tensor b) {
        ensureOpen();
        checks.concatTokens(out, a, b);
        Shape as = a.shape();
        Shape bs = b.shape();
        long aBytes = a.byteSize() / as.dim(0);
        long bBytes = b.byteSize() / bs.dim(0);
        for (long batch = 0; batch < as.dim(0); batch++) {
            MemorySegment.copy(a.memory(), batch * aBytes, out.memory(), batch * (aBytes + bBytes), aBytes);
            MemorySegment.copy(b.memory(), batch * bBytes, out.memory(), batch * (aBytes + bBytes) + aBytes, bBytes);
        }
    }

    @Override
    public synchronized void writeRows(Tensor cache, Tensor src, int position) {
        ensureOpen();
        checks.writeRows(cache, src, position);
        Shape cs = cache.shape();
        Shape ss = src.shape();
        long rowBytes = (long) ss.dim(2) * src.dtype().byteSize();
        long srcBatchBytes = ss.dim(1) * rowBytes;
        long cacheBatchBytes = cs.dim(1) * rowBytes;
        for (long batch = 0; batch < ss.dim(0); batch++) {
            MemorySegment.copy(src.memory(), batch * srcBatchBytes, cache.memory(),
                    batch * cacheBatchBytes + position * rowBytes, srcBatchBytes);
        }
    }

    @Override
    public synchronized void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {
        ensureOpen();
        checks.gatherRows(out, src, sourceRows, firstRows, rowsPrefix);
        Shape os = out.shape();
        Shape ss = src.shape();
        long outRowBytes = out.byteSize() / os.dim(0);
        long srcRowBytes = src.byteSize() / ss.dim(0);
        long positionBytes = outRowBytes / os.dim(1);
        for (int row = 0; row < sourceRows.length; row++) {
            long skipped = firstRows == null ? 0 : firstRows[row] * positionBytes;
            MemorySegment.copy(src.memory(), sourceRows[row] * srcRowBytes + skipped, out.memory(),
                    row * outRowBytes + skipped, rowsPrefix * positionBytes - skipped);
        }
    }

    @Override
    public synchronized void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp,
            Tensor logits, Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {
        ensureOpen();
        checks.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bannedTokens, forcedToken, scoreOffsets);
        logSoftmaxTopK.run(scores, tokens, logProbs, logSumExp, logits, bannedTokens, forcedToken, scoreOffsets);
    }

    @Override
    public synchronized void synchronize() {
        ensureOpen();
        Dnnl.streamWait(stream);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (packedCrossAttention != null) {
            packedCrossAttention.close();
        }
        team.close();
        cache.close();
        linearInput.close();
        meanRow.close();
        attentionProbabilities.close();
        packedWeights.values().forEach(p -> Dnnl.primitiveDescDestroy(p.layout()));
        packedWeights.clear();
        packedConvWeights.values().forEach(PackedConv::release);
        packedConvWeights.clear();
        convLayouts.values().forEach(l -> Dnnl.primitiveDescDestroy(l.primitiveDesc()));
        convLayouts.clear();
        scratch.close();
        Dnnl.streamDestroy(stream);
        Dnnl.engineDestroy(engine);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("CpuBackend used after close()");
        }
    }

    /**
     * Applies the OpenMP team for the op about to run to the calling thread (an OpenMP setting is per thread): one
     * thread when the op moves fewer than {@link #ONE_THREAD_BYTES}, since waking a team costs more than such an op
     * takes (a decode step's 3-row layer norm: 2 µs on one thread, 13 µs on two); {@link #parallelTeam} otherwise.
     * Every op calls it before it looks up or creates a primitive, and the choice depends only on the op's shape (the
     * primitives several ops share carry {@link #appliedTeam} in their key), so each cached primitive is created and
     * executed with the same team, as oneDNN's OpenMP runtime requires.
     *
     * @param bytesMoved bytes the op reads and writes
     */
    private void useTeam(long bytesMoved) {
        int team = bytesMoved < ONE_THREAD_BYTES ? 1 : parallelTeam;
        appliedTeam = team;
        int[] current = TEAM_OF_THREAD.get();
        if (current[0] != team) {
            Dnnl.ompSetNumThreads(team);
            current[0] = team;
        }
    }

    /** The stream; ops call {@link #useTeam} first. */
    private MemorySegment stream() {
        return stream;
    }

    /** At least {@code bytes} of backend-owned scratch (attention scores, conv weights). */
    private MemorySegment scratch(long bytes) {
        return scratch.atLeast(bytes);
    }

    private static int floatType(String op, Tensor tensor) {
        return switch (tensor.dtype()) {
            case F32 -> DATA_TYPE_F32;
            case F16 -> Dnnl.DATA_TYPE_F16;
            case BF16 -> Dnnl.DATA_TYPE_BF16;
            default -> throw new IllegalArgumentException(op + ": weight " + tensor.dtype() + tensor.shape()
                    + " must be F32, F16 or BF16");
        };
    }

    /** Whether {@code shape} is {@code [a, b, c]} (checked without making a shape). */
    private static boolean isShape(Shape shape, int a, int b, int c) {
        return shape.rank() == 3 && shape.dim(0) == a && shape.dim(1) == b && shape.dim(2) == c;
    }

    private static void requireHost(String op, Tensor tensor) {
        if (!tensor.device().isHost()) {
            throw new IllegalArgumentException(op + ": " + tensor + " is not in host memory");
        }
    }

    // Fixed-arity checks, not varargs: a varargs array per op call was a large part of a decoder step's
    // allocation (escape analysis does not always remove it).
    private static void requireF32(String op, Tensor tensor) {
        if (tensor != null && (tensor.dtype() != DType.F32 || !tensor.device().isHost())) {
            throw new IllegalArgumentException(op + ": " + tensor + " must be an F32 host tensor");
        }
    }

    private static void requireF32(String op, Tensor a, Tensor b) {
        requireF32(op, a);
        requireF32(op, b);
    }

    /** Throws the op's shape error, naming every tensor's shape, unless {@code ok}. */
    private static void require(boolean ok, String op, String expectation, Tensor a) {
        if (!ok) {
            throw shapeError(op, expectation, a);
        }
    }

    private static void require(boolean ok, String op, String expectation, Tensor a, Tensor b) {
        if (!ok) {
            throw shapeError(op, expectation, a, b);
        }
    }

    private static void require(boolean ok, String op, String expectation, Tensor a, Tensor b, Tensor c) {
        if (!ok) {
            throw shapeError(op, expectation, a, b, c);
        }
    }

    private static IllegalArgumentException shapeError(String op, String expectation, Tensor... tensors) {
        StringBuilder message = new StringBuilder(op).append(": shapes");
        for (Tensor tensor : tensors) {
            message.append(' ').append(tensor == null ? "null" : tensor.dtype() + "" + tensor.shape());
        }
        return new IllegalArgumentException(message.append(" do not fit; ").append(expectation).toString());
    }
}
