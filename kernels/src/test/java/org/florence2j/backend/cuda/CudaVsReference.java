package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.util.Random;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs one op on {@link CudaBackend} and on {@link ReferenceBackend} with the same seeded random inputs and
 * compares the downloaded result. Where no GPU or CUDA library is present, opening it aborts the test with the
 * reason (the only skip the suite allows).
 */
final class CudaVsReference implements AutoCloseable {
    final Arena arena = Arena.ofConfined();
    final ReferenceBackend reference = new ReferenceBackend();
    final CudaBackend cuda;
    private final Random random;

    /** A backend op writing into {@code out} from {@code inputs}, the same call for both backends. */
    @FunctionalInterface
    interface Op {
        void run(Backend backend, Tensor out, Tensor[] inputs);
    }

    CudaVsReference(long seed) {
        this(seed, ConvolutionPath.fromSystemProperty(), true);
    }

    /** As {@link #CudaVsReference(long)}, with convolutions on {@code convolutions}. */
    CudaVsReference(long seed, ConvolutionPath convolutions) {
        this(seed, convolutions, true);
    }

    /** With {@code graphs}: whether the CUDA backend captures decode steps ({@link CudaBackend#open(int, boolean)}). */
    CudaVsReference(long seed, boolean graphs) {
        this(seed, ConvolutionPath.fromSystemProperty(), graphs);
    }

    private CudaVsReference(long seed, ConvolutionPath convolutions, boolean graphs) {
        cuda = openOrAbort(convolutions, graphs);
        random = new Random(seed);
    }

    /** Opens cuda:0 as {@link CudaBackend#open(int)} does, or aborts the calling test saying why CUDA is unavailable. */
    static CudaBackend openOrAbort() {
        return openOrAbort(ConvolutionPath.fromSystemProperty(), true);
    }

    /**
     * Opens cuda:0 with convolutions on {@code convolutions} and decode-step graphs as {@code graphs} says, or aborts
     * the calling test saying why CUDA (or, for {@link ConvolutionPath#CUDNN}, cuDNN) is unavailable.
     */
    static CudaBackend openOrAbort(ConvolutionPath convolutions, boolean graphs) {
        try {
            return CudaBackend.open(0, CudaSettings.fromSystemProperties().withConvolutions(convolutions)
                    .withGraphs(graphs));
        } catch (NativeLibraryException | CudaException e) {
            Assumptions.abort("CUDA unavailable: " + e.getMessage());
            throw new AssertionError("abort returned", e);
        }
    }

    /** Host values uniform in {@code [-scale, scale)}, stored as {@code dtype}. */
    Tensor random(DType dtype, float scale, int... dims) {
        float[] values = new float[Math.toIntExact(Shape.of(dims).elementCount())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (random.nextFloat() * 2 - 1) * scale;
        }
        Tensor f32 = Tensor.ofFloats(Shape.of(dims), arena, values);
        return dtype == DType.F32 ? f32 : reference.upload(f32, dtype, arena);
    }

    Tensor random(float scale, int... dims) {
        return random(DType.F32, scale, dims);
    }

    /**
     * Runs {@code op} on the reference with host inputs and on CUDA with uploaded copies (same dtypes), and
     * asserts the CUDA output, downloaded, is within {@code tolerance}. The output starts as {@code initialOut}
     * when given (ops that update part of it), else zero.
     */
    void check(String name, Tolerance tolerance, Tensor initialOut, int[] outDims, Op op, Tensor... inputs) {
        Shape outShape = Shape.of(outDims);
        Tensor expected = Tensor.allocateHost(DType.F32, outShape, arena);
        Tensor deviceOut = initialOut == null ? cuda.allocate(DType.F32, outShape, arena)
                : cuda.upload(initialOut, DType.F32, arena);
        if (initialOut != null) {
            reference.copy(expected, initialOut);
        }
        Tensor[] deviceInputs = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            deviceInputs[i] = inputs[i] == null ? null : cuda.upload(inputs[i], inputs[i].dtype(), arena);
        }
        op.run(reference, expected, inputs);
        op.run(cuda, deviceOut, deviceInputs);
        Tensor actual = Tensor.allocateHost(DType.F32, outShape, arena);
        cuda.download(deviceOut, actual);
        tolerance.assertClose(name, expected, actual);
    }

    void check(String name, int[] outDims, Op op, Tensor... inputs) {
        check(name, Tolerance.KERNEL_F32, null, outDims, op, inputs);
    }

    @Override
    public void close() {
        // Device memory first, while the context that owns it is still retained.
        arena.close();
        cuda.close();
        reference.close();
    }
}
