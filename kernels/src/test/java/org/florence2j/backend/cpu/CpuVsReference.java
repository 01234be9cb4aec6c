package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.function.BiConsumer;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Runs one op on {@link CpuBackend} and on {@link ReferenceBackend} with the same seeded random inputs and compares
 * the outputs. One backend pair and one arena per test; close it with try-with-resources.
 */
final class CpuVsReference implements AutoCloseable {
    final Arena arena;
    final CpuBackend cpu = new CpuBackend();
    final ReferenceBackend reference = new ReferenceBackend();
    private final Random random;

    /** Tensors in a confined arena: only the test's thread may read them. */
    CpuVsReference(long seed) {
        this(seed, false);
    }

    /**
     * Tensors in a shared arena ({@code shared}), which any thread may read (as a model session's are), or in a
     * confined one.
     */
    CpuVsReference(long seed, boolean shared) {
        arena = shared ? Arena.ofShared() : Arena.ofConfined();
        random = new Random(seed);
    }

    /** F32 values uniform in {@code [-scale, scale)}. */
    Tensor random(float scale, int... dims) {
        Tensor tensor = Tensor.allocateHost(DType.F32, Shape.of(dims), arena);
        for (long i = 0; i < tensor.elementCount(); i++) {
            tensor.setFloat(i, (random.nextFloat() * 2 - 1) * scale);
        }
        return tensor;
    }

    Tensor zeros(int... dims) {
        return Tensor.allocateHost(DType.F32, Shape.of(dims), arena);
    }

    /**
     * Runs {@code op} into a fresh output of {@code outDims} on both backends and asserts the CPU result is within
     * {@code tolerance} of the reference's.
     */
    void check(String name, Tolerance tolerance, int[] outDims, BiConsumer<Backend, Tensor> op) {
        Tensor expected = zeros(outDims);
        Tensor actual = zeros(outDims);
        op.accept(reference, expected);
        op.accept(cpu, actual);
        tolerance.assertClose(name, expected, actual);
    }

    @Override
    public void close() {
        cpu.close();
        reference.close();
        arena.close();
    }
}
