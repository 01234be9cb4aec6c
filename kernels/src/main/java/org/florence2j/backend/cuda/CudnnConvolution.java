package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.Cudnn;

/**
 * cuDNN forward convolutions for {@link CudaBackend} on token-major F32 feature maps: {@code x [batch, height·width,
 * inChannels]} is cuDNN's fully packed NHWC, and so is {@code y [batch, outHeight·outWidth, outChannels]}.
 *
 * <p>The filter is NHWC too, {@code [outChannels, kernel, kernel, inChannels/groups]} in F32: the layout cuDNN's
 * NHWC kernels are written for (an NCHW filter with NHWC maps limits it to its generic implicit GEMM). PyTorch's
 * {@code [out, in/groups, kernel, kernel]} weight is reordered into it by the caller, in the workspace; for a
 * depthwise filter ({@code in/groups == 1}) the two layouts are the same bytes.
 *
 * <p>One {@link Plan} per {@link Geometry}, made on its first use and kept until {@link #close}: the four
 * descriptors, the algorithm and its workspace size. The algorithm is the first of cuDNN's heuristic ranking
 * ({@code cudnnGetConvolutionForwardAlgorithm_v7}, nothing run or allocated) that runs with
 * {@code CUDNN_FMA_MATH}, so F32 is never computed as TF32, as on the im2col path where cuBLAS computes in F32.
 */
final class CudnnConvolution implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CudnnConvolution.class.getName());

    /**
     * One convolution's sizes: a square {@code kernel}, the same {@code stride} and zero {@code padding} on both
     * axes, {@code groups} dividing both channel counts (1: dense; {@code inChannels}: depthwise).
     */
    record Geometry(int batch, int height, int width, int inChannels, int outChannels, int kernel, int stride,
            int padding, int groups) {
        int outHeight() {
            return (height + 2 * padding - kernel) / stride + 1;
        }

        int outWidth() {
            return (width + 2 * padding - kernel) / stride + 1;
        }
    }

    /** Everything {@code cudnnConvolutionForward} needs for one geometry but the data. */
    private record Plan(MemorySegment x, MemorySegment filter, MemorySegment convolution, MemorySegment y,
            int algorithm, long workspaceBytes) {
    }

    private final Arena arena;
    private final MemorySegment handle;
    private final Map<Geometry, Plan> plans = new HashMap<>();

    private CudnnConvolution(Arena arena, MemorySegment handle) {
        this.arena = arena;
        this.handle = handle;
    }

    /**
     * A cuDNN handle on the current device whose work queues on {@code stream}, with its convolution support
     * checked by planning a 1×1 convolution: cuDNN loads its convolution sub-library on first use, and a missing
     * or mismatched one should fail here, where {@link ConvolutionPath#AUTO} can still fall back, not in a model.
     *
     * @throws org.florence2j.bindings.NativeLibraryException if libcudnn is missing
     * @throws CudaException                                  if cuDNN cannot make a handle (e.g. a driver too old
     *                                                        for it) or plan a convolution
     */
    static CudnnConvolution open(MemorySegment stream) {
        Cudnn.library().failure().ifPresent(failure -> {
            throw failure;
        });
        Arena arena = Arena.ofShared();
        try {
            MemorySegment handle = Cudnn.create(arena);
            Cudnn.setStream(handle, stream);
            CudnnConvolution convolution = new CudnnConvolution(arena, handle);
            convolution.plan(new Geometry(1, 1, 1, 1, 1, 1, 1, 0, 1));
            return convolution;
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The workspace, in bytes, that {@link #forward} needs for {@code geometry}; plans it on first use. */
    long workspaceBytes(Geometry geometry) {
        return plan(geometry).workspaceBytes();
    }

    /**
     * Queues {@code y = conv(x, filter) + beta·y}.
     *
     * @param y         {@code [batch, outHeight·outWidth, outChannels]} F32
     * @param x         {@code [batch, height·width, inChannels]} F32
     * @param filter    {@code [outChannels, kernel, kernel, inChannels/groups]} F32
     * @param workspace at least {@link #workspaceBytes} bytes of device memory
     */
    void forward(Geometry geometry, MemorySegment y, float beta, MemorySegment x, MemorySegment filter,
            MemorySegment workspace) {
        Plan plan = plan(geometry);
        Cudnn.convolutionForward(handle, 1f, plan.x(), x, plan.filter(), filter, plan.convolution(),
                plan.algorithm(), workspace.asSlice(0, plan.workspaceBytes()), beta, plan.y(), y);
    }

    /** Destroys every descriptor and the handle; the stream must be idle. */
    @Override
    public synchronized void close() {
        plans.clear();
        arena.close();
    }

    private synchronized Plan plan(Geometry g) {
        Plan plan = plans.get(g);
        if (plan == null) {
            plan = newPlan(g);
            plans.put(g, plan);
        }
        return plan;
    }

    private Plan newPlan(Geometry g) {
        MemorySegment x = Cudnn.createTensorDescriptor(arena);
        Cudnn.setTensor4dDescriptor(x, Cudnn.TENSOR_NHWC, Cudnn.DATA_FLOAT, g.batch(), g.inChannels(), g.height(),
                g.width());
        MemorySegment filter = Cudnn.createFilterDescriptor(arena);
        Cudnn.setFilter4dDescriptor(filter, Cudnn.DATA_FLOAT, Cudnn.TENSOR_NHWC, g.outChannels(),
                g.inChannels() / g.groups(), g.kernel(), g.kernel());
        MemorySegment convolution = Cudnn.createConvolutionDescriptor(arena);
        Cudnn.setConvolution2dDescriptor(convolution, g.padding(), g.padding(), g.stride(), g.stride(), 1, 1,
                Cudnn.CROSS_CORRELATION, Cudnn.DATA_FLOAT);
        Cudnn.setConvolutionGroupCount(convolution, g.groups());
        Cudnn.setConvolutionMathType(convolution, Cudnn.FMA_MATH);
        MemorySegment y = Cudnn.createTensorDescriptor(arena);
        Cudnn.setTensor4dDescriptor(y, Cudnn.TENSOR_NHWC, Cudnn.DATA_FLOAT, g.batch(), g.outChannels(),
                g.outHeight(), g.outWidth());
        List<Cudnn.ForwardAlgorithm> ranking = Cudnn.getConvolutionForwardAlgorithm(handle, x, filter, convolution,
                y);
        CudaException firstRefusal = null;
        for (Cudnn.ForwardAlgorithm candidate : ranking) {
            if (!candidate.usable()) {
                continue;
            }
            // The ranking mixes math types; asking for the workspace with FMA math set is what tells whether this
            // algorithm runs without tensor cores.
            try {
                long workspaceBytes = Cudnn.getConvolutionForwardWorkspaceSize(handle, x, filter, convolution, y,
                        candidate.algorithm());
                LOG.log(Level.FINE, "cuDNN plan for {0}: algorithm {1}, {2} workspace bytes",
                        new Object[] {g, candidate.algorithm(), workspaceBytes});
                return new Plan(x, filter, convolution, y, candidate.algorithm(), workspaceBytes);
            } catch (CudaException refused) {
                firstRefusal = firstRefusal == null ? refused : firstRefusal;
            }
        }
        int status = firstRefusal != null ? firstRefusal.status()
                : ranking.isEmpty() ? -1 : ranking.getFirst().status();
        throw new CudaException(firstRefusal != null ? firstRefusal.call() : "cudnnGetConvolutionForwardAlgorithm_v7",
                status, Cudnn.getErrorString(status),
                "no F32 forward algorithm with FMA math for " + g + "; cuDNN's ranking: " + ranking);
    }
}
