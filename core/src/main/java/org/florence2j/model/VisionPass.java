package org.florence2j.model;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepGraph;
import org.florence2j.bindings.CudaException;
import org.florence2j.model.vision.DaViT;
import org.florence2j.model.vision.VisionScratch;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The vision tower as a {@link Session} runs it. The tower's scratch and the buffers of its input pixels and its
 * output are kept across requests (grown when a request needs more; see {@link #reserve}), so every pass of one batch
 * and image size reads and writes the same memory. That lets a pass go through a {@link StepGraph}: on CUDA a shape's
 * pass runs eagerly once, is captured on the next request, and is replayed with one graph launch from then on,
 * instead of some 1,500 kernel and cuBLAS launches whose issuing costs the host more than the GPU spends on them.
 * Taps that read the tower's intermediates ({@link Taps#readsVisionTower}) get them from an eager pass.
 */
final class VisionPass implements AutoCloseable {
    private final Backend backend;
    private final DaViT davit;
    private final Tensor lent; // the session's text scratch, which the tower's scratch overlays as far as it fits
    private final StepGraph graph;
    private final List<Shape> variants = new ArrayList<>(); // the pixel shapes seen, by graph variant
    private Arena arena; // owns what of the scratch is not lent, the pixels and the output; null before a pass
    private VisionScratch scratch;
    private Tensor pixels; // F32, flat: room for [images, 3, height, width]
    private Tensor out; // F32, flat: room for the tower's output for as many images of that size
    private int images;
    private int height;
    private int width;

    /** Holds nothing until the first pass; {@code lent} is an F32 tensor on {@code backend}. */
    VisionPass(Backend backend, DaViT davit, Tensor lent) {
        this.backend = backend;
        this.davit = davit;
        this.lent = lent;
        this.graph = backend.newStepGraph();
    }

    /**
     * Runs the tower on {@code pixelValues}, tapping {@code pixel_values} first.
     *
     * @param pixelValues  {@code [images, 3, height, width]}, on the host or this backend's device
     * @param request      owner of what the request allocates (a conversion of pixels that are not F32)
     * @param cancellation checked before the pass, and between its stages when it runs eagerly
     * @return the tower's output, valid until the next pass
     * @throws InvalidInputException when the host has no memory left for the pass
     */
    Tensor run(Tensor pixelValues, Arena request, Taps taps, Cancellation cancellation) {
        Shape shape = pixelValues.shape();
        reserve(shape.dim(0), shape.dim(2), shape.dim(3));
        Tensor input = pixels.narrow(0, Math.toIntExact(shape.elementCount())).reshape(shape);
        stage(input, pixelValues, request);
        taps.tap("pixel_values", input);
        Shape outShape = davit.outputShape(shape.dim(0), shape.dim(2), shape.dim(3));
        Tensor output = out.narrow(0, Math.toIntExact(outShape.elementCount())).reshape(outShape);
        try {
            if (taps.readsVisionTower()) {
                davit.forward(new ForwardContext(backend, request, taps, cancellation), input, output, scratch);
            } else {
                cancellation.throwIfCancelled();
                ForwardContext untapped = new ForwardContext(backend, request, Taps.NONE, cancellation);
                graph.run(variant(shape), () -> davit.forward(untapped, input, output, scratch));
            }
        } catch (OutOfMemoryError e) {
            // The backend's own scratch, which the buffers above do not hold (window attention's scores grow as
            // window_size⁴), found no host memory: the request is refused as too large, and the pass stays usable.
            throw new InvalidInputException(shape.dim(0) + " image(s) of " + shape.dim(3) + " × " + shape.dim(2)
                    + " pixels need more memory than is left for the vision tower (" + e.getMessage() + ")", e);
        }
        return output;
    }

    /** Copies the pixels into the kept input buffer, converting them to F32 if they are not. */
    private void stage(Tensor input, Tensor pixelValues, Arena request) {
        if (pixelValues.device().isHost() && pixelValues.dtype() != DType.F32) {
            backend.copy(input, backend.upload(pixelValues, DType.F32, request));
        } else if (pixelValues.device().equals(backend.device())) {
            backend.copy(input, pixelValues); // converts a device tensor's dtype
        } else {
            backend.write(input, pixelValues);
        }
    }

    /** The graph variant of passes over {@code shape}: one per shape, all forgotten when there are too many. */
    private int variant(Shape shape) {
        int variant = variants.indexOf(shape);
        if (variant >= 0) {
            return variant;
        }
        if (variants.size() == StepGraph.VARIANTS) {
            graph.reset();
            variants.clear();
        }
        variants.add(shape);
        return variants.size() - 1;
    }

    /**
     * Makes the kept buffers large enough for {@code images × height × width}, forgetting captured passes. Each
     * dimension grows to the largest seen, which keeps one set of buffers for a service's few sizes. Where that
     * would hold more than twice this request's need, or more than the machine holds, the buffers are made for this
     * request alone: images kept at their own aspect ratios (a processor that does not resize) would otherwise grow
     * them to the largest height times the largest width, gigabytes for a tall image after a wide one. Alternating
     * such shapes then makes new buffers for each request. On a GPU, grown buffers that run out of device memory
     * are made for this request alone too.
     *
     * @throws InvalidInputException when even this request's buffers could not be held ({@link #requireMemory})
     * @throws org.florence2j.bindings.CudaException when the device runs out of memory for this request's own
     *                                               buffers, or fails otherwise
     */
    private void reserve(int images, int height, int width) {
        if (arena != null && images <= this.images && height <= this.height && width <= this.width) {
            return;
        }
        long machine = Session.machineMemory();
        requireMemory(davit, backend, images, height, width, machine);
        int keptImages = Math.max(images, this.images);
        int keptHeight = Math.max(height, this.height);
        int keptWidth = Math.max(width, this.width);
        long needed = footprint(davit, backend, images, height, width);
        if (footprint(davit, backend, keptImages, keptHeight, keptWidth) > 2 * needed
                || problem(davit, backend, keptImages, keptHeight, keptWidth, machine) != null) {
            keptImages = images;
            keptHeight = height;
            keptWidth = width;
        }
        // Captured passes hold the addresses about to be freed; the old buffers go before the new ones are made.
        graph.reset();
        variants.clear();
        if (arena != null) {
            arena.close();
            arena = null;
        }
        try {
            arena = allocateBuffers(keptImages, keptHeight, keptWidth);
        } catch (CudaException e) {
            // problem() counts host memory only: on a GPU the allocation is the check, and this request alone may
            // still fit where the grown buffers did not.
            boolean grown = keptImages != images || keptHeight != height || keptWidth != width;
            if (!e.isOutOfMemory() || !grown) {
                throw e;
            }
            keptImages = images;
            keptHeight = height;
            keptWidth = width;
            arena = allocateBuffers(keptImages, keptHeight, keptWidth);
        }
        this.images = keptImages;
        this.height = keptHeight;
        this.width = keptWidth;
    }

    /** Makes the scratch, pixel and output buffers for {@code images × height × width}; returns their arena. */
    private Arena allocateBuffers(int images, int height, int width) {
        Arena fresh = Arena.ofShared();
        try {
            scratch = davit.newScratch(new ForwardContext(backend, fresh, Taps.NONE), images, height, width, lent);
            pixels = allocate(new Shape(images, 3, height, width), fresh);
            out = allocate(davit.outputShape(images, height, width), fresh);
            return fresh;
        } catch (RuntimeException | Error e) {
            fresh.close();
            throw e;
        }
    }

    /** The F32 elements of the tower's scratch and kept buffers for {@code images × height × width}. */
    private static long footprint(DaViT davit, Backend backend, int images, int height, int width) {
        return davit.scratchElements(backend, images, height, width) + bufferElements(davit, images, height, width);
    }

    /**
     * Refuses a pass whose buffers could not be held: more values than one buffer takes, or, on a host backend, more
     * bytes than {@code machineBytes}.
     *
     * @throws InvalidInputException naming the images' size and what they need
     */
    static void requireMemory(DaViT davit, Backend backend, int images, int height, int width, long machineBytes) {
        String need = problem(davit, backend, images, height, width, machineBytes);
        if (need != null) {
            throw new InvalidInputException(images + " image(s) of " + width + " × " + height + " pixels need "
                    + need + ": send smaller images or fewer at once");
        }
    }

    /** What buffers for {@code images × height × width} need that cannot be had, or {@code null} when they fit. */
    private static String problem(DaViT davit, Backend backend, int images, int height, int width,
            long machineBytes) {
        // Every buffer is at most the scratch's total or the pixels' count; tensors here are int-sized.
        if (davit.scratchElements(backend, images, height, width) > Integer.MAX_VALUE
                || 3L * images * height * width > Integer.MAX_VALUE) {
            return "buffers of more than " + Integer.MAX_VALUE + " values";
        }
        long bytes = 4 * footprint(davit, backend, images, height, width);
        if (backend.device().isHost() && bytes > machineBytes) {
            return String.format(Locale.ROOT, "%.1f GB of vision buffers, more than this machine's %.1f GB",
                    bytes / 1e9, machineBytes / 1e9);
        }
        return null;
    }

    /**
     * The F32 elements of the input and output buffers kept for {@code images × height × width} (beside the tower's
     * scratch, which overlays the session's text scratch).
     */
    static long bufferElements(DaViT davit, int images, int height, int width) {
        return 3L * images * height * width + davit.outputShape(images, height, width).elementCount();
    }

    /** A flat F32 buffer with room for {@code shape}. */
    private Tensor allocate(Shape shape, Arena owner) {
        return backend.allocate(DType.F32, new Shape(Math.toIntExact(shape.elementCount())), owner);
    }

    /** Frees the kept buffers and captured passes. Idempotent. */
    @Override
    public void close() {
        graph.close();
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }
}
