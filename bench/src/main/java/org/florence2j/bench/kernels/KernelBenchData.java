package org.florence2j.bench.kernels;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/** Seeded random F32 inputs for kernel benchmarks (values in [-1, 1): the numbers do not affect speed). */
final class KernelBenchData {
    private KernelBenchData() {}

    static Tensor random(Backend backend, Arena arena, long seed, Shape shape) {
        Tensor tensor = backend.allocate(DType.F32, shape, arena);
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < tensor.elementCount(); i++) {
            tensor.setFloat(i, (float) (random.nextDouble() * 2 - 1));
        }
        return tensor;
    }
}
