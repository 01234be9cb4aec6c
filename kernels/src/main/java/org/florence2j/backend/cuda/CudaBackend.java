package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.backend.OpChecks;
import org.florence2j.backend.StepGraph;
import org.florence2j.backend.StepParameters;
import org.florence2j.bindings.Cublas;
import org.florence2j.bindings.CudaDriver;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.CudaRuntime;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.bindings.Nvrtc;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * {@link Backend} on one NVIDIA GPU: GEMMs through cuBLAS ({@code cublasGemmEx} and its strided-batched form, F32
 * accumulation, tensor cores for F16/BF16 weights), convolutions through cuDNN or as im2col plus one GEMM, and the
 * hand-written kernels of {@code native/cuda} (compiled by {@link CudaModules}) for everything else. Semantics are
 * exactly {@code ReferenceBackend}'s, against which {@code CudaBackendTest} checks every op on both convolution
 * paths.
 *
 * <p>Convolutions ({@link #conv2d} and {@link #depthwiseConv3x3Residual}) follow a {@link ConvolutionPath}, by
 * default {@code -Dflorence2j.cuda.conv=auto}: through cuDNN where libcudnn 9 or 8 loads and the convolution is one
 * it runs faster, else with the hand-written kernels (im2col plus one cuBLAS GEMM; a direct depthwise kernel that
 * adds the residual and bias itself). cuDNN's path is {@code CudnnConvolution}: {@code cudnnConvolutionForward} on
 * NHWC maps in F32 with FMA math, never TF32; the weight reordered to an NHWC filter, 16-bit weights widened to F32,
 * in the workspace; bias and residual added around it. {@code cudnn} or {@code im2col} sends every convolution one
 * way; {@link #convolutionPath()} says which an open backend uses. {@code GpuBench} times both at
 * Florence-2-base's shapes.
 *
 * <p>How it reads the contract (arguments are checked by the {@link OpChecks} every backend shares, before any
 * kernel or copy is queued):
 * <ul>
 *   <li>Every tensor an op touches lives on this backend's device; activations are F32, and the operands the
 *       reference lets be weights (linear and matmul right-hand sides, norm and conv parameters, the embedding
 *       table, {@code add}'s second operand) may be F32, F16 or BF16. A 16-bit GEMM operand makes the backend
 *       convert the F32 side to the same type first (cuBLAS wants matching input types).</li>
 *   <li>All work is queued on one stream; {@link #download} and {@link #synchronize} wait for it. Ops are not
 *       meant to be called from several threads at once.</li>
 *   <li>Device memory is tied to the arena passed to {@link #allocate}/{@link #upload}; each op checks that its
 *       tensors' arenas are alive ({@link Tensor#memory()}) so a use after close is an
 *       {@link IllegalStateException}, never a device fault.</li>
 *   <li>{@link #embedding}'s ids may be host or device I32; device ids are downloaded to be range-checked, except
 *       in a decode step issued through {@link #newStepGraph} (see below).</li>
 * </ul>
 *
 * <p>Decode steps and CUDA graphs. A session issues each decode step through the {@link StepGraph} of
 * {@link #newStepGraph}: each variant of the step (the cache buffer it reads, with or without a beam reorder) runs
 * eagerly once, is captured once as a CUDA graph on the backend's stream, and is then replayed with one
 * {@code cudaGraphLaunch} per token. Everything that changes from token to token is read by the kernels from the
 * session's {@link StepParameters}, written by one asynchronous host-to-device copy before each replay: the token
 * and position ids ({@link #embedding} of device ids, unchecked there), the KV-cache row written
 * ({@code write_rows_at}), the causal mask ({@code attention_softmax_at}: self-attention scores are computed over
 * the cache's whole capacity and the keys past the position get zero weight, so one graph serves every position
 * instead of one per length bucket) and the beam parents ({@code gather_rows_at}). Setting the system property
 * {@value #GRAPHS_PROPERTY}{@code =false} (read by {@link #open(int)}; or {@link #open(int, boolean)}) turns this
 * off: every op of a step is then launched as it is issued, with the position and parents as launch parameters and
 * attention over the filled part of the cache only. A capture or launch that fails is logged once and the session
 * continues that way ({@link CudaStepGraph}). A session's vision tower goes through a step graph of its own, one
 * variant per batch and image size, into input and output buffers the session keeps; the same property turns it off.
 *
 * <p>Memory: weights and session buffers are allocated once; ops that need scratch share one workspace that only
 * grows ({@link CudaMemory}), and cuBLAS is given its own fixed workspace ({@code cublasSetWorkspace}), so after the
 * first step of a session nothing in the decode loop calls {@code cudaMalloc}: the first, eager run of a step
 * variant grows the workspace to what the captured step needs, and a later growth (a bigger request) makes the
 * affected graphs be captured again rather than replay stale addresses.
 */
public final class CudaBackend implements Backend {
    /** System property that turns CUDA graphs of the decode step on ({@code true}, the default) or off. */
    public static final String GRAPHS_PROPERTY = "florence2j.cuda.graphs";

    private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());
    // cuDNN's workspace follows the reordered filter in our workspace, at an offset cudaMalloc would also give.
    private static final long WORKSPACE_ALIGNMENT = 256;
    private static final int THREADS = 256;
    private static final int MAX_BLOCKS = 1 << 20;
    /*
     * Attention of at most this many query rows (a decode step's one token) runs as one decode_attention launch, a
     * block per row and head, instead of two GEMMs per head or row and a softmax: the step's launches, not its
     * arithmetic, set its time (H200, base, 3 beams: 25 launches took 350 µs an attention with a sync after each).
     * Its limits are the kernel's shared arrays (native/cuda/softmax.cu).
     */
    private static final int DECODE_ATTENTION_MAX_QUERIES = 4;
    private static final int DECODE_ATTENTION_MAX_KEYS = 4096;
    private static final int DECODE_ATTENTION_MAX_HEAD_DIM = 128;
    // window_attention keeps a head's keys and values of one window in shared memory: at most this many of each
    // (DaViT's 12 × 12 windows of head dimension 32 take 4,608); window.cu's WINDOW_ATTENTION_MAX_ELEMENTS.
    private static final int WINDOW_ATTENTION_MAX_ELEMENTS = 5120;
    private static final int WINDOW_ATTENTION_MAX_HEAD_DIM = 64;
    // cuBLAS's recommended workspace: 32 MiB on Hopper and later, 4 MiB before.
    private static final long CUBLAS_WORKSPACE_BYTES_SM90 = 32L << 20;
    private static final long CUBLAS_WORKSPACE_BYTES = 4L << 20;

    private final Device device;
    private final Arena handles;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final MemorySegment cublas;
    private final CudaModules modules;
    private final CudnnConvolution cudnn; // null: convolutions run on the im2col path
    private final boolean cudnnEverywhere; // every convolution through cudnn; else only those it runs faster
    private final CudaMemory memory;
    private final OpChecks checks;
    private final boolean graphs;
    private final DType linearWeights; // the type uploadLinearWeight keeps F32 requests in
    private boolean stepKernels; // set while a StepGraph issues its ops (a decode step, a vision pass)
    private long stepGraphLaunches;
    private final CudaLogits logitsKernel;
    private volatile boolean closed;

    private CudaBackend(Device device, Arena handles, MemorySegment context, MemorySegment stream,
            MemorySegment cublas, CudaModules modules, CudnnConvolution cudnn, boolean cudnnEverywhere,
            boolean graphs, DType linearWeights) {
        this.device = device;
        this.handles = handles;
        this.context = context;
        this.stream = stream;
        this.cublas = cublas;
        this.modules = modules;
        this.cudnn = cudnn;
        this.cudnnEverywhere = cudnnEverywhere;
        this.graphs = graphs;
        this.linearWeights = linearWeights;
        this.memory = new CudaMemory(stream);
        this.checks = new OpChecks(device, EnumSet.of(DType.F32, DType.F16, DType.BF16));
        this.logitsKernel = new CudaLogits(modules, memory, stream, handles);
    }

    /**
     * Opens CUDA device {@code ordinal} with {@link CudaSettings#fromSystemProperties()}: the convolution path named by
     * {@code -Dflorence2j.cuda.conv}, CUDA graphs of the decode step as {@value #GRAPHS_PROPERTY} says ({@code true},
     * the default when unset, or {@code false}), F32 linear weights.
     *
     * @throws IllegalArgumentException if either property has another value
     * @see #open(int, CudaSettings)
     */
    public static CudaBackend open(int ordinal) {
        return open(ordinal, CudaSettings.fromSystemProperties());
    }

    /** {@link #open(int)} with convolutions on {@code convolutions}. */
    public static CudaBackend open(int ordinal, ConvolutionPath convolutions) {
        return open(ordinal, CudaSettings.fromSystemProperties().withConvolutions(convolutions));
    }

    /** {@link #open(int)} with decode-step graphs on or off. */
    public static CudaBackend open(int ordinal, boolean graphs) {
        return open(ordinal, CudaSettings.fromSystemProperties().withGraphs(graphs));
    }

    /**
     * Whether a value of {@value #GRAPHS_PROPERTY} turns graphs on: unset or {@code true} does, {@code false}
     * does not (either case).
     *
     * @throws IllegalArgumentException for any other value, naming the property
     */
    static boolean graphsEnabled(String value) {
        if (value == null || value.equalsIgnoreCase("true")) {
            return true;
        }
        if (value.equalsIgnoreCase("false")) {
            return false;
        }
        throw new IllegalArgumentException("-D" + GRAPHS_PROPERTY + "=" + value + ": expected true or false");
    }

    /**
     * Opens CUDA device {@code ordinal}: its primary context, one stream, one cuBLAS handle with its workspace, the
     * kernels (compiled lazily, on first use, for its compute capability) and, unless the settings' convolutions are
     * {@link ConvolutionPath#IM2COL}, one cuDNN handle.
     *
     * @throws NativeLibraryException   if the driver, runtime, cuBLAS or NVRTC is missing, or cuDNN when the
     *                                  settings' convolutions are {@link ConvolutionPath#CUDNN}
     * @throws CudaException            if CUDA reports an error (no device, old driver), or there is no device
     *                                  {@code ordinal} ({@code cudaErrorInvalidDevice}, naming the devices visible)
     * @throws IllegalArgumentException if {@code ordinal} is negative
     */
    public static CudaBackend open(int ordinal, CudaSettings settings) {
        if (ordinal < 0) {
            throw new IllegalArgumentException("CUDA device ordinals are 0 or more, got " + ordinal);
        }
        CudaDriver.init();
        int count = CudaRuntime.getDeviceCount();
        if (ordinal >= count) {
            // A machine's problem, not the caller's: the same request runs where more devices are visible.
            throw new CudaException("opening cuda:" + ordinal + " (" + count + " CUDA device(s) visible)",
                    CudaRuntime.ERROR_INVALID_DEVICE, "cudaErrorInvalidDevice");
        }
        // Fail now, not at the first op, when cuBLAS or NVRTC is missing.
        for (var library : List.of(Cublas.library(), Nvrtc.library())) {
            library.failure().ifPresent(failure -> {
                throw failure;
            });
        }
        Arena handles = Arena.ofShared();
        try {
            CudaRuntime.setDevice(ordinal);
            MemorySegment context = CudaDriver.primaryCtxRetain(CudaDriver.deviceGet(ordinal), handles);
            CudaDriver.ctxSetCurrent(context);
            int major = CudaRuntime.deviceGetAttribute(CudaRuntime.ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ordinal);
            int minor = CudaRuntime.deviceGetAttribute(CudaRuntime.ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ordinal);
            MemorySegment stream = CudaRuntime.streamCreate(handles);
            MemorySegment cublas = Cublas.create(handles);
            Cublas.setStream(cublas, stream);
            // A workspace of its own (after setStream, which resets it), so no cuBLAS call allocates while a
            // decode step is being captured.
            long cublasWorkspace = major >= 9 ? CUBLAS_WORKSPACE_BYTES_SM90 : CUBLAS_WORKSPACE_BYTES;
            Cublas.setWorkspace(cublas, CudaMemory.allocate(cublasWorkspace, handles), cublasWorkspace);
            CudaModules modules =
                    new CudaModules(handles, "sm_" + major + minor, CudaModules.defaultCacheFolder());
            // Last, so that nothing after it can fail and leave its handle open.
            CudnnConvolution cudnn = openCudnn(settings.convolutions(), stream);
            return new CudaBackend(Device.cuda(ordinal), handles, context, stream, cublas, modules, cudnn,
                    settings.convolutions() == ConvolutionPath.CUDNN, settings.graphs(), settings.linearWeights());
        } catch (RuntimeException | Error e) {
            handles.close();
            throw e;
        }
    }

    /** The cuDNN convolutions for {@code path} on {@code stream}, or null where they run on the im2col path. */
    private static CudnnConvolution openCudnn(ConvolutionPath path, MemorySegment stream) {
        return switch (path) {
            case IM2COL -> null;
            case CUDNN -> CudnnConvolution.open(stream);
            case AUTO -> {
                try {
                    yield CudnnConvolution.open(stream);
                } catch (NativeLibraryException | CudaException e) {
                    LOG.log(Level.INFO, "cuDNN unavailable, convolutions run as im2col plus cuBLAS: {0}",
                            e.getMessage());
                    yield null;
                }
            }
        };
    }

    @Override
    public Device device() {
        return device;
    }

    /**
     * How this backend runs convolutions: {@link ConvolutionPath#CUDNN} (all through cuDNN),
     * {@link ConvolutionPath#IM2COL} (none) or {@link ConvolutionPath#AUTO} (through cuDNN where it is faster).
     */
    public ConvolutionPath convolutionPath() {
        if (cudnn == null) {
            return ConvolutionPath.IM2COL;
        }
        return cudnnEverywhere ? ConvolutionPath.CUDNN : ConvolutionPath.AUTO;
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape, Arena owner) {
        enter();
        return Tensor.wrap(dtype, shape, device, CudaMemory.allocate(shape.elementCount() * dtype.byteSize(), owner));
    }

    @Override
    public Tensor upload(Tensor host, DType dtype, Arena owner) {
        enter();
        checks.upload(host, dtype);
        Tensor result = allocate(dtype, host.shape(), owner);
        if (host.dtype() == dtype) {
            memory.upload(result.memory(), host.memory());
        } else if (host.dtype() == DType.F64) {
            // No kernel reads F64; narrow on the host (F64 only appears in hand-made test tensors).
            try (Arena arena = Arena.ofConfined()) {
                Tensor narrowed = Tensor.ofFloats(host.shape(), arena, host.toFloatArray());
                launchConvert(result, uploadToWorkspace(narrowed), DType.F32);
            }
        } else {
            launchConvert(result, uploadToWorkspace(host), host.dtype());
        }
        return result;
    }

    /**
     * {@inheritDoc}
     *
     * <p>An F32 request is kept in the settings' {@link CudaSettings#linearWeights} type: with F16 or BF16 the
     * returned weight is that type (half the device memory), and {@link #linear} runs its GEMM on tensor cores with
     * F32 accumulation, converting the F32 input first. Other requests are uploaded as asked.
     */
    @Override
    public Tensor uploadLinearWeight(Tensor host, DType dtype, Arena owner) {
        return upload(host, dtype == DType.F32 ? linearWeights : dtype, owner);
    }

    @Override
    public void download(Tensor src, Tensor hostDst) {
        enter();
        checks.download(src, hostDst);
        if (src.dtype() == hostDst.dtype()) {
            memory.download(hostDst.memory(), src.memory());
            return;
        }
        MemorySegment converted = memory.workspace(hostDst.byteSize());
        convert(converted, hostDst.dtype(), src.memory(), src.dtype(), src.elementCount());
        memory.download(hostDst.memory(), converted);
    }

    @Override
    public void copy(Tensor out, Tensor src) {
        enter();
        checks.copy(out, src);
        if (src.dtype() == out.dtype()) {
            memory.copy(out.memory(), src.memory(), src.byteSize());
        } else {
            launchConvert(out, src.memory(), src.dtype());
        }
    }

    /** Queues the copy on the stream without waiting (pageable host memory is staged before this returns). */
    @Override
    public void write(Tensor out, Tensor host) {
        enter();
        checks.write(out, host);
        CudaRuntime.memcpyAsync(out.memory(), host.memory(), host.byteSize(), CudaRuntime.HOST_TO_DEVICE, stream);
    }

    @Override
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        enter();
        checks.linear(out, x, weight, bias);
        linear(out, x, weight, bias, 0f);
    }

    /** {@link #linear} with the GEMM's {@code beta = 1}: cuBLAS adds {@code out}'s previous values. */
    @Override
    public void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        enter();
        checks.linearResidual(out, x, weight, bias);
        linear(out, x, weight, bias, 1f);
    }

    /** {@code out = x · weightᵀ + beta · out}, then {@code + bias}. */
    private void linear(Tensor out, Tensor x, Tensor weight, Tensor bias, float beta) {
        int inFeatures = x.shape().last();
        int outFeatures = out.shape().last();
        int rows = Math.toIntExact(x.shape().rows());
        MemorySegment input = asType(x.memory(), weight.dtype(), x.elementCount(), 0);
        // out[r, o] = Σ_i x[r, i]·weight[o, i]: x times weightᵀ.
        gemm(false, true, rows, outFeatures, inFeatures, 1f, input, weight.dtype(), inFeatures, 0,
                weight.memory(), weight.dtype(), inFeatures, 0, beta, out.memory(), outFeatures, 0, 1);
        if (bias != null) {
            launchAdd(out, out, bias);
        }
    }

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b) {
        enter();
        checks.matmul(out, a, b);
        Shape sa = a.shape();
        Shape sb = b.shape();
        int m = sa.dim(1);
        int k = sa.dim(2);
        int n = sb.dim(2);
        MemorySegment left = asType(a.memory(), b.dtype(), a.elementCount(), 0);
        gemm(false, false, m, n, k, 1f, left, b.dtype(), k, (long) m * k, b.memory(), b.dtype(), n,
                sb.dim(0) == 1 ? 0 : (long) k * n, out.memory(), n, (long) m * n, sa.dim(0));
    }

    @Override
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {
        enter();
        checks.layerNorm(out, x, weight, bias);
        int channels = x.shape().last();
        launchRows("layer_norm", "layer_norm", x.shape().rows(), out.memory(), x.memory(), weight.memory(),
                bias.memory(), dtypeCode(weight.dtype()), dtypeCode(bias.dtype()), channels, eps);
    }

    @Override
    public void gelu(Tensor out, Tensor x) {
        enter();
        checks.gelu(out, x);
        launchElements("elementwise", "gelu", x.elementCount(), out.memory(), x.memory(), x.elementCount());
    }

    @Override
    public void softmax(Tensor out, Tensor x) {
        enter();
        checks.softmax(out, x);
        launchRows("softmax", "softmax", x.shape().rows(), out.memory(), x.memory(), x.shape().last());
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        enter();
        checks.add(out, a, b);
        launchAdd(out, a, b);
    }

    @Override
    public void selfAttention(Tensor out, Tensor qkv, int heads, float scale) {
        enter();
        checks.selfAttention(out, qkv, heads);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int tokens = shape.dim(1);
        int channels = shape.dim(2);
        int headDim = channels / heads;
        long rowStride = 3L * channels;
        if (tokens <= THREADS && (long) tokens * headDim <= WINDOW_ATTENTION_MAX_ELEMENTS && headDim % 4 == 0
                && headDim <= WINDOW_ATTENTION_MAX_HEAD_DIM) {
            // One launch, a block per window and head (a thread per query row), where the GEMMs below take two
            // GEMMs per head or window and a softmax launch.
            launchRows("window", headDim <= 32 ? "window_attention_32" : "window_attention_64", (long) batch * heads,
                    out.memory(), qkv.memory(), tokens, channels, heads, headDim, scale);
            return;
        }
        long scoreElements = (long) tokens * tokens;
        // scores [heads, batch, tokens, tokens]
        MemorySegment scores = memory.workspace(4L * heads * batch * scoreElements);
        MemorySegment packed = qkv.memory();
        // Each GEMM is one strided batch over the windows of one head, or, where windows are fewer than heads (a
        // band of a late stage's windows), over the heads of one window. The reference's reshape(B, N, 3, heads,
        // headDim): head h of q, k, v at h·headDim within each row's three blocks.
        boolean perWindow = batch < heads;
        int groups = perWindow ? batch : heads;
        int perGroup = perWindow ? heads : batch;
        long windowStride = tokens * rowStride;
        long scoreStride = perWindow ? batch * scoreElements : scoreElements;
        for (int g = 0; g < groups; g++) {
            long qkvOffset = perWindow ? g * windowStride : (long) g * headDim;
            long scoreOffset = perWindow ? g * scoreElements : g * batch * scoreElements;
            long operandStride = perWindow ? headDim : windowStride;
            gemm(false, true, tokens, tokens, headDim, scale, floats(packed, qkvOffset), DType.F32, (int) rowStride,
                    operandStride, floats(packed, channels + qkvOffset), DType.F32, (int) rowStride, operandStride,
                    floats(scores, scoreOffset), tokens, scoreStride, perGroup);
        }
        launchRows("softmax", "attention_softmax", (long) heads * batch * tokens, scores, tokens, tokens, 0, 0);
        for (int g = 0; g < groups; g++) {
            long qkvOffset = perWindow ? g * windowStride : (long) g * headDim;
            long scoreOffset = perWindow ? g * scoreElements : g * batch * scoreElements;
            long outOffset = perWindow ? (long) g * tokens * channels : (long) g * headDim;
            gemm(false, false, tokens, headDim, tokens, 1f, floats(scores, scoreOffset), DType.F32, tokens,
                    scoreStride, floats(packed, 2L * channels + qkvOffset), DType.F32, (int) rowStride,
                    perWindow ? headDim : windowStride, floats(out.memory(), outOffset), channels,
                    perWindow ? headDim : (long) tokens * channels, perGroup);
        }
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale,
            AttentionMask mask) {
        enter();
        checks.attention(out, q, k, v, kvTokens, heads, mask);
        attend(out, q, k, v, kvTokens, heads, scale, mask, k.shape().dim(1), false, null);
    }

    /** In a step issued through a {@link StepGraph}: over the whole cache, masked at the device-held position. */
    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, StepParameters step, int heads, float scale) {
        enter();
        int kvTokens = step.position() + q.shape().dim(1);
        checks.attention(out, q, k, v, kvTokens, heads, step.causalMask());
        int capacity = k.shape().dim(1);
        if (stepKernels) {
            attend(out, q, k, v, capacity, heads, scale, step.causalMask(), capacity, false,
                    step.devicePosition().memory());
        } else {
            attend(out, q, k, v, kvTokens, heads, scale, step.causalMask(), capacity, false, null);
        }
    }

    @Override
    public void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor v, int kvTokens, int heads,
            float scale) {
        enter();
        checks.attentionTransposedKeys(out, q, keysT, v, kvTokens, heads);
        attend(out, q, keysT, v, kvTokens, heads, scale, AttentionMask.none(), keysT.shape().dim(2), true, null);
    }

    /**
     * Attention over the first {@code kvTokens} keys of {@code k}: one decode_attention launch for a decode step's
     * few query rows, else GEMMs and a softmax. {@code k} is {@code [kvBatch,
     * capacity, channels]} like {@code v}, or, when {@code crossLayout}, {@code [kvBatch, channels, capacity]}
     * (each head's keys are then a plain {@code [headDim, kvTokens]} operand with leading dimension
     * {@code capacity}) with {@code v} {@code [kvBatch, heads, capacity, headDim]} (each head's values a dense
     * {@code [kvTokens, headDim]} operand); with
     * {@code devicePosition}, the causal mask's past tokens are read from it when the softmax runs instead of from
     * {@code mask}.
     */
    private void attend(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale,
            AttentionMask mask, int capacity, boolean crossLayout, MemorySegment devicePosition) {
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int queryTokens = shape.dim(1);
        int channels = shape.dim(2);
        int headDim = channels / heads;
        int kvBatch = k.shape().dim(0);
        int beamsPerKv = batch / kvBatch;
        long kvRowElements = (long) capacity * channels;
        long keyHeadOffset = crossLayout ? (long) headDim * capacity : headDim;
        int keyLeadingDim = crossLayout ? capacity : channels;
        long valueHeadOffset = crossLayout ? (long) headDim * capacity : headDim;
        int valueLeadingDim = crossLayout ? headDim : channels;
        if (queryTokens <= DECODE_ATTENTION_MAX_QUERIES && kvTokens <= DECODE_ATTENTION_MAX_KEYS
                && headDim <= DECODE_ATTENTION_MAX_HEAD_DIM) {
            launchRows("softmax", "decode_attention", (long) batch * queryTokens * heads, out.memory(), q.memory(),
                    k.memory(), v.memory(), queryTokens, kvTokens, channels, heads, headDim, beamsPerKv,
                    kvRowElements, crossLayout ? 1L : channels, crossLayout ? (long) capacity : 1L, keyHeadOffset,
                    (long) valueLeadingDim, valueHeadOffset, scale, mask.causal() ? 1 : 0, mask.pastTokens(),
                    devicePosition == null ? MemorySegment.NULL : devicePosition);
            return;
        }
        long scoreElements = (long) queryTokens * kvTokens;
        // scores [heads, batch, queryTokens, kvTokens]
        MemorySegment scores = memory.workspace(4L * heads * batch * scoreElements);
        // Each GEMM is one strided batch: over the heads of one batch row where rows are fewer than heads (the
        // encoder's one prompt, a few beams), else over the rows of one head, where beams sharing one image's K/V
        // (cross-attention) batch over that image's beams with a K/V stride of 0.
        boolean perRow = batch < heads;
        int groups = perRow ? batch : beamsPerKv == 1 ? heads : heads * kvBatch;
        int perGroup = perRow ? heads : beamsPerKv == 1 ? batch : beamsPerKv;
        long kvStride = beamsPerKv == 1 ? kvRowElements : 0;
        for (int g = 0; g < groups; g++) {
            int h = perRow ? 0 : beamsPerKv == 1 ? g : g / kvBatch;
            long firstBatch = perRow ? g : beamsPerKv == 1 ? 0 : (long) (g % kvBatch) * beamsPerKv;
            long kvOffset = firstBatch / beamsPerKv * kvRowElements;
            gemm(false, !crossLayout, queryTokens, kvTokens, headDim, scale,
                    floats(q.memory(), firstBatch * queryTokens * channels + (long) h * headDim), DType.F32,
                    channels, perRow ? headDim : (long) queryTokens * channels,
                    floats(k.memory(), kvOffset + h * keyHeadOffset), DType.F32, keyLeadingDim,
                    perRow ? keyHeadOffset : kvStride, floats(scores, (h * batch + firstBatch) * scoreElements),
                    kvTokens, perRow ? batch * scoreElements : scoreElements, perGroup);
        }
        long scoreRows = (long) heads * batch * queryTokens;
        if (devicePosition != null) {
            launchRows("softmax", "attention_softmax_at", scoreRows, scores, kvTokens, queryTokens, devicePosition);
        } else {
            launchRows("softmax", "attention_softmax", scoreRows, scores, kvTokens, queryTokens, mask.causal() ? 1 : 0,
                    mask.pastTokens());
        }
        for (int g = 0; g < groups; g++) {
            int h = perRow ? 0 : beamsPerKv == 1 ? g : g / kvBatch;
            long firstBatch = perRow ? g : beamsPerKv == 1 ? 0 : (long) (g % kvBatch) * beamsPerKv;
            long kvOffset = firstBatch / beamsPerKv * kvRowElements;
            gemm(false, false, queryTokens, headDim, kvTokens, 1f,
                    floats(scores, (h * batch + firstBatch) * scoreElements), DType.F32, kvTokens,
                    perRow ? batch * scoreElements : scoreElements,
                    floats(v.memory(), kvOffset + h * valueHeadOffset), DType.F32, valueLeadingDim,
                    perRow ? valueHeadOffset : kvStride,
                    floats(out.memory(), firstBatch * queryTokens * channels + (long) h * headDim), channels,
                    perRow ? headDim : (long) queryTokens * channels, perGroup);
        }
    }

    @Override
    public void transposeKeys(Tensor keysT, Tensor keys) {
        enter();
        checks.transposeKeys(keysT, keys);
        Shape s = keys.shape();
        launchElements("layout", "transpose_keys", keys.elementCount(), keysT.memory(), keys.memory(), s.dim(1),
                s.dim(2), keysT.shape().dim(2), keys.elementCount());
    }

    @Override
    public void headMajorValues(Tensor valuesHM, Tensor values) {
        enter();
        checks.headMajorValues(valuesHM, values);
        Shape s = values.shape();
        Shape h = valuesHM.shape();
        launchElements("layout", "head_major_values", values.elementCount(), valuesHM.memory(), values.memory(),
                s.dim(1), s.dim(2), h.dim(3), h.dim(2), values.elementCount());
    }

    @Override
    public void channelAttention(Tensor out, Tensor qkv, int groups, float scale) {
        enter();
        checks.channelAttention(out, qkv, groups);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int tokens = shape.dim(1);
        int channels = shape.dim(2);
        int groupChannels = channels / groups;
        int rowStride = 3 * channels;
        long attnElements = (long) groupChannels * groupChannels;
        // attn [batch, groups, groupChannels, groupChannels]
        MemorySegment attn = memory.workspace(4L * batch * groups * attnElements);
        MemorySegment packed = qkv.memory();
        for (int b = 0; b < batch; b++) {
            long base = (long) b * tokens * rowStride;
            // ChannelAttention: attn = (q·scale)ᵀ·k over tokens, per group; scale moved onto the product.
            gemm(true, false, groupChannels, groupChannels, tokens, scale, floats(packed, base), DType.F32,
                    rowStride, groupChannels, floats(packed, base + channels), DType.F32, rowStride, groupChannels,
                    floats(attn, b * groups * attnElements), groupChannels, attnElements, groups);
        }
        launchRows("softmax", "softmax", (long) batch * groups * groupChannels, attn, attn, groupChannels);
        for (int b = 0; b < batch; b++) {
            long base = (long) b * tokens * rowStride;
            // out[n, i] = Σ_j attn[i, j]·v[n, j]: the reference's (attn·vᵀ)ᵀ, groups side by side.
            gemm(false, true, tokens, groupChannels, groupChannels, 1f, floats(packed, base + 2L * channels),
                    DType.F32, rowStride, groupChannels, floats(attn, b * groups * attnElements), DType.F32,
                    groupChannels, attnElements, floats(out.memory(), (long) b * tokens * channels), channels,
                    groupChannels, groups);
        }
    }

    @Override
    public void windowPartition(Tensor out, Tensor x, int height, int width, int window) {
        enter();
        checks.windowPartition(out, x, height, width, window);
        launchElements("window", "window_partition", out.elementCount(), out.memory(), x.memory(), height, width,
                window, x.shape().last(), out.elementCount());
    }

    @Override
    public void windowReverse(Tensor out, Tensor windows, int height, int width, int window) {
        enter();
        checks.windowReverse(out, windows, height, width, window);
        launchElements("window", "window_reverse", out.elementCount(), out.memory(), windows.memory(), height, width,
                window, out.shape().last(), out.elementCount());
    }

    @Override
    public void conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias, int stride,
            int padding) {
        enter();
        OpChecks.Conv2dSize size = checks.conv2d(out, x, height, width, weight, bias, stride, padding);
        Shape w = weight.shape();
        int kernel = size.kernel();
        int outHeight = size.outHeight();
        int outWidth = size.outWidth();
        int inChannels = w.dim(1);
        int patch = inChannels * kernel * kernel;
        int rows = x.shape().dim(0) * outHeight * outWidth;
        if (cudnn != null && (cudnnEverywhere || kernel > ConvolutionPath.LARGEST_IM2COL_KERNEL_ON_AUTO)) {
            cudnnConvolution(out, 0f, x, weight, new CudnnConvolution.Geometry(x.shape().dim(0), height, width,
                    inChannels, w.dim(0), kernel, stride, padding, 1));
        } else {
            long colsElements = (long) rows * patch;
            // cols [batch·outHeight·outWidth, inChannels·kernel·kernel], in the weight's dtype for cuBLAS.
            MemorySegment cols = memory.workspace(colsElements * weight.dtype().byteSize());
            launchElements("conv", "im2col", colsElements, cols, dtypeCode(weight.dtype()), x.memory(), height,
                    width, inChannels, kernel, stride, padding, outHeight, outWidth, colsElements);
            // A convolution is cols times weightᵀ, the weight seen as [outChannels, inChannels·kernel·kernel].
            gemm(false, true, rows, w.dim(0), patch, 1f, cols, weight.dtype(), patch, 0, weight.memory(),
                    weight.dtype(), patch, 0, out.memory(), w.dim(0), 0, 1);
        }
        if (bias != null) {
            launchAdd(out, out, bias);
        }
    }

    @Override
    public void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias) {
        enter();
        checks.depthwiseConv3x3Residual(out, x, height, width, weight, bias);
        int channels = x.shape().last();
        if (cudnn != null && cudnnEverywhere) {
            // out = x, then out += dwconv(x) (beta 1), then the bias.
            memory.copy(out.memory(), x.memory(), x.byteSize());
            cudnnConvolution(out, 1f, x, weight, new CudnnConvolution.Geometry(x.shape().dim(0), height, width,
                    channels, channels, 3, 1, 1, channels));
            launchAdd(out, out, bias);
        } else {
            launchElements("conv", "depthwise_conv3x3_residual", out.elementCount(), out.memory(), x.memory(),
                    weight.memory(), bias.memory(), dtypeCode(weight.dtype()), dtypeCode(bias.dtype()), height,
                    width, channels, out.elementCount());
        }
    }

    @Override
    public void channelsLast(Tensor out, Tensor x) {
        enter();
        checks.channelsLast(out, x);
        Shape s = x.shape();
        launchElements("layout", "channels_last", out.elementCount(), out.memory(), x.memory(), s.dim(1),
                s.dim(2) * s.dim(3), out.elementCount());
    }

    @Override
    public void meanTokens(Tensor out, Tensor x) {
        enter();
        checks.meanTokens(out, x);
        Shape s = x.shape();
        launchElements("layout", "mean_tokens", out.elementCount(), out.memory(), x.memory(), s.dim(1), s.dim(2),
                out.elementCount());
    }

    @Override
    public void embedding(Tensor out, Tensor table, Tensor ids) {
        enter();
        checks.embedding(out, table, ids);
        try (Arena arena = Arena.ofConfined()) {
            Tensor hostIds = ids;
            // A step being captured cannot wait for a download; its ids were checked when set (StepParameters).
            boolean check = ids.device().isHost() || !stepKernels;
            if (!ids.device().isHost() && check) {
                hostIds = Tensor.allocateHost(DType.I32, ids.shape(), arena);
                memory.download(hostIds.memory(), ids.memory());
            }
            if (check) {
                OpChecks.embeddingIds(hostIds.toLongArray(), table);
            }
            MemorySegment deviceIds = ids.device().isHost() ? uploadToWorkspace(ids) : ids.memory();
            launchElements("layout", "embedding", out.elementCount(), out.memory(), table.memory(),
                    dtypeCode(table.dtype()), deviceIds, out.shape().last(), out.elementCount());
        }
    }

    @Override
    public void concatTokens(Tensor out, Tensor a, Tensor b) {
        enter();
        checks.concatTokens(out, a, b);
        Shape sa = a.shape();
        long rowA = a.byteSize() / sa.dim(0);
        long rowB = b.byteSize() / sa.dim(0);
        memory.copyRows(out.memory(), rowA + rowB, a.memory(), rowA, rowA, sa.dim(0));
        memory.copyRows(out.memory().asSlice(rowA), rowA + rowB, b.memory(), rowB, rowB, sa.dim(0));
    }

    @Override
    public void writeRows(Tensor cache, Tensor src, int position) {
        enter();
        checks.writeRows(cache, src, position);
        copyRowsAt(cache, src, position);
    }

    /** In a step issued through a {@link StepGraph}: at the device-held position. */
    @Override
    public void writeRows(Tensor cache, Tensor src, StepParameters step) {
        enter();
        checks.writeRows(cache, src, step.position());
        if (!stepKernels) {
            copyRowsAt(cache, src, step.position());
            return;
        }
        Shape c = cache.shape();
        launchElements("cache", "write_rows_at", src.elementCount(), cache.memory(), src.memory(),
                step.devicePosition().memory(), c.dim(1), src.shape().dim(1), c.last(), src.elementCount());
    }

    private void copyRowsAt(Tensor cache, Tensor src, int position) {
        Shape c = cache.shape();
        Shape s = src.shape();
        long cacheRow = cache.byteSize() / c.dim(0);
        long srcRow = src.byteSize() / s.dim(0);
        long offset = 4L * position * c.last();
        memory.copyRows(cache.memory().asSlice(offset), cacheRow, src.memory(), srcRow, srcRow, s.dim(0));
    }

    @Override
    public void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {
        enter();
        checks.gatherRows(out, src, sourceRows, firstRows, rowsPrefix);
        copyGathered(out, src, sourceRows, firstRows, rowsPrefix);
    }

    /**
     * In a step issued through a {@link StepGraph}: parents and prefix read from the device when it runs, every row
     * copied from position 0 (a replay cannot see the host's first rows).
     */
    @Override
    public void gatherRows(Tensor out, Tensor src, StepParameters step) {
        enter();
        checks.gatherRows(out, src, step.parents(), step.firstRows(), step.position());
        if (!stepKernels) {
            copyGathered(out, src, step.parents(), step.firstRows(), step.position());
            return;
        }
        Shape o = out.shape();
        launchElements("cache", "gather_rows_at", out.elementCount(), out.memory(), src.memory(),
                step.parentRows().memory(), step.devicePosition().memory(), o.dim(0), o.dim(1),
                out.elementCount() / ((long) o.dim(0) * o.dim(1)));
    }

    private void copyGathered(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {
        Shape o = out.shape();
        long outerBytes = out.byteSize() / o.dim(0);
        long positionBytes = outerBytes / o.dim(1);
        for (int b = 0; b < sourceRows.length; b++) {
            long skipped = firstRows == null ? 0 : firstRows[b] * positionBytes;
            memory.copy(out.memory().asSlice(b * outerBytes + skipped),
                    src.memory().asSlice(sourceRows[b] * outerBytes + skipped), rowsPrefix * positionBytes - skipped);
        }
    }

    /**
     * A {@link CudaStepGraph} when this backend was opened with graphs, else {@link StepGraph#eager()}. The caller
     * closes it before this backend.
     */
    @Override
    public StepGraph newStepGraph() {
        enter();
        return graphs ? new CudaStepGraph(new CudaStepGraph.Capture(this)) : StepGraph.eager();
    }

    /** Captured CUDA graphs launched so far (decode steps and vision passes), over every session on this backend. */
    public long stepGraphLaunches() {
        return stepGraphLaunches;
    }

    /**
     * The {@code log_softmax_top_k} kernel of {@code native/cuda/logits.cu}, one block per row; its shared-memory ban
     * bitmap limits the vocabulary to 327,680 tokens (a larger one is an {@link IllegalArgumentException}).
     */
    @Override
    public void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {
        enter();
        checks.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bannedTokens, forcedToken, scoreOffsets);
        logitsKernel.run(scores, tokens, logProbs, logSumExp, logits, bannedTokens, forcedToken, scoreOffsets);
    }

    @Override
    public void synchronize() {
        enter();
        CudaRuntime.streamSynchronize(stream);
    }

    /**
     * Waits for queued work, then frees the workspace, cuDNN's descriptors and handle, kernels, cuBLAS handle,
     * stream and context. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            CudaDriver.ctxSetCurrent(context);
            CudaRuntime.streamSynchronize(stream);
        } finally {
            memory.close();
            if (cudnn != null) {
                cudnn.close();
            }
            handles.close();
        }
    }

    /** Checks the backend is open and binds its context to the calling thread (a cheap thread-local set). */
    private void enter() {
        if (closed) {
            throw new IllegalStateException("CudaBackend on " + device + " used after close");
        }
        CudaDriver.ctxSetCurrent(context);
    }

    /**
     * Issues {@code ops} with the step kernels: the {@link StepParameters} overloads read the parameters from device
     * memory, over the whole cache, and device embedding ids go unchecked. What a step graph warms up and captures.
     */
    void runStepKernels(Runnable ops) {
        stepKernels = true;
        try {
            ops.run();
        } finally {
            stepKernels = false;
        }
    }

    /** The stream a step graph captures on, with the context bound to the calling thread. */
    MemorySegment captureStream() {
        enter();
        return stream;
    }

    /** Binds the context to the calling thread, unless the backend is closed and has released it. */
    void bindIfOpen() {
        if (!closed) {
            CudaDriver.ctxSetCurrent(context);
        }
    }

    /** Queues one run of a captured step graph. */
    void launchStepGraph(MemorySegment graph) {
        enter();
        CudaRuntime.graphLaunch(graph, stream);
        stepGraphLaunches++;
    }

    /** Changes whenever the workspace moves, which makes captured graphs stale ({@link CudaMemory#generation}). */
    long workspaceGeneration() {
        return memory.generation();
    }

    /**
     * Row-major, optionally strided-batched GEMM: {@code C[m×n] = alpha·op(A)·op(B)} (overwriting C), each matrix
     * given by its
     * row stride ({@code ld*}, elements) and its batch stride (elements; 0 repeats one matrix). cuBLAS is
     * column-major, where a row-major matrix reads as its transpose, so the call computes {@code Cᵀ = op(B)ᵀ·op(A)ᵀ}
     * by swapping the operands; the transpose flags carry over unchanged.
     */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a,
            DType typeA, int lda, long strideA, MemorySegment b, DType typeB, int ldb, long strideB, MemorySegment c,
            int ldc, long strideC, int batch) {
        gemm(transA, transB, m, n, k, alpha, a, typeA, lda, strideA, b, typeB, ldb, strideB, 0f, c, ldc, strideC,
                batch);
    }

    /** {@link #gemm} computing {@code C = alpha·op(A)·op(B) + beta·C}. */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a,
            DType typeA, int lda, long strideA, MemorySegment b, DType typeB, int ldb, long strideB, float beta,
            MemorySegment c, int ldc, long strideC, int batch) {
        int opA = transA ? Cublas.OP_T : Cublas.OP_N;
        int opB = transB ? Cublas.OP_T : Cublas.OP_N;
        if (batch == 1) {
            Cublas.gemmEx(cublas, opB, opA, n, m, k, alpha, b, cublasType(typeB), ldb, a, cublasType(typeA), lda, beta,
                    c, Cublas.R_32F, ldc);
        } else {
            Cublas.gemmStridedBatchedEx(cublas, opB, opA, n, m, k, alpha, b, cublasType(typeB), ldb, strideB, a,
                    cublasType(typeA), lda, strideA, beta, c, Cublas.R_32F, ldc, strideC, batch);
        }
    }

    /**
     * Queues {@code out = conv(x, weight) + beta·out} through cuDNN. cuDNN gets an F32 NHWC filter: PyTorch's
     * {@code [out, in/groups, kernel, kernel]} weight is reordered (and widened from 16 bits) into the workspace,
     * ahead of cuDNN's own workspace, unless it is F32 already in that layout (one input channel per group, or a
     * 1×1 kernel).
     */
    private void cudnnConvolution(Tensor out, float beta, Tensor x, Tensor weight,
            CudnnConvolution.Geometry geometry) {
        int groupChannels = geometry.inChannels() / geometry.groups();
        boolean sameLayout = groupChannels == 1 || geometry.kernel() == 1;
        long filterElements = weight.elementCount();
        long filterBytes = weight.dtype() == DType.F32 && sameLayout ? 0
                : (4 * filterElements + WORKSPACE_ALIGNMENT - 1) / WORKSPACE_ALIGNMENT * WORKSPACE_ALIGNMENT;
        MemorySegment scratch = memory.workspace(filterBytes + cudnn.workspaceBytes(geometry));
        MemorySegment filter = weight.memory();
        if (filterBytes > 0) {
            filter = scratch.asSlice(0, 4 * filterElements);
            launchElements("conv", "filter_to_nhwc", filterElements, filter, weight.memory(),
                    dtypeCode(weight.dtype()), groupChannels, geometry.kernel(), filterElements);
        }
        cudnn.forward(geometry, out.memory(), beta, x.memory(), filter, scratch.asSlice(filterBytes));
    }

    /** An F32 device buffer seen as {@code dtype}: itself, or a converted copy in the workspace at byteOffset. */
    private MemorySegment asType(MemorySegment f32, DType dtype, long elementCount, long byteOffset) {
        if (dtype == DType.F32) {
            return f32;
        }
        MemorySegment converted = memory.workspace(byteOffset + elementCount * dtype.byteSize()).asSlice(byteOffset);
        convert(converted, dtype, f32, DType.F32, elementCount);
        return converted;
    }

    /** Copies a host tensor's bytes into the workspace and returns them there. */
    private MemorySegment uploadToWorkspace(Tensor host) {
        MemorySegment staged = memory.workspace(host.byteSize());
        memory.upload(staged, host.memory());
        return staged;
    }

    private void launchConvert(Tensor out, MemorySegment src, DType srcType) {
        convert(out.memory(), out.dtype(), src, srcType, out.elementCount());
    }

    private void convert(MemorySegment out, DType outType, MemorySegment src, DType srcType, long elementCount) {
        launchElements("elementwise", "convert", elementCount, out, dtypeCode(outType), src, dtypeCode(srcType),
                elementCount);
    }

    private void launchAdd(Tensor out, Tensor a, Tensor b) {
        launchElements("elementwise", "add_broadcast", out.elementCount(), out.memory(), a.memory(), b.memory(),
                dtypeCode(b.dtype()), out.elementCount(), b.elementCount());
    }

    /** Launches a grid-stride element kernel over {@code count} elements. */
    private void launchElements(String file, String kernel, long count, Object... args) {
        int blocks = (int) Math.min(MAX_BLOCKS, (count + THREADS - 1) / THREADS);
        launch(file, kernel, Math.max(1, blocks), args);
    }

    /** Launches a row kernel: one block of {@value #THREADS} threads per row. */
    private void launchRows(String file, String kernel, long rows, Object... args) {
        launch(file, kernel, Math.toIntExact(rows), args);
    }

    /**
     * One {@code cuLaunchKernel}. Arguments are {@link MemorySegment} (a device pointer), {@link Integer},
     * {@link Long} or {@link Float}, in the kernel's parameter order; each is written to native memory and
     * {@code kernelParams} points at them, as the driver API wants.
     */
    private void launch(String file, String kernel, int blocks, Object... args) {
        MemorySegment function = modules.function(file, kernel);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(ValueLayout.ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment value = switch (args[i]) {
                    case MemorySegment pointer -> arena.allocateFrom(ValueLayout.JAVA_LONG, pointer.address());
                    case Integer number -> arena.allocateFrom(ValueLayout.JAVA_INT, number);
                    case Long number -> arena.allocateFrom(ValueLayout.JAVA_LONG, number);
                    case Float number -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, number);
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                };
                params.setAtIndex(ValueLayout.ADDRESS, i, value);
            }
            CudaDriver.launchKernel(function, blocks, 1, THREADS, 0, stream, params);
        }
    }

    /** The F32 element at offset {@code elementOffset} of a device buffer. */
    private static MemorySegment floats(MemorySegment buffer, long elementOffset) {
        return buffer.asSlice(4 * elementOffset);
    }

    /** Our kernels' dtype codes ({@code DTYPE_*} in {@code native/cuda/common.cuh}). */
    private static int dtypeCode(DType dtype) {
        return switch (dtype) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            default -> throw new IllegalArgumentException("no CUDA kernel reads " + dtype);
        };
    }

    private static int cublasType(DType dtype) {
        return switch (dtype) {
            case F32 -> Cublas.R_32F;
            case F16 -> Cublas.R_16F;
            case BF16 -> Cublas.R_16BF;
            default -> throw new IllegalArgumentException("cuBLAS GEMMs take F32, F16 or BF16, not " + dtype);
        };
    }
}
