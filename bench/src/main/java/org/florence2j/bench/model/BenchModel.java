package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/** Helpers shared by the model-stage benchmarks. */
final class BenchModel {
    private BenchModel() {}

    /**
     * A seeded tensor of values in [-1, 1) on {@code backend}'s device (the numbers do not affect speed): filled on the
     * host in {@code arena} and uploaded, which on the CPU may hand back the host tensor itself.
     */
    static Tensor random(Backend backend, Arena arena, long seed, Shape shape) {
        Tensor tensor = Tensor.allocateHost(DType.F32, shape, arena);
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < tensor.elementCount(); i++) {
            tensor.setFloat(i, (float) (random.nextDouble() * 2 - 1));
        }
        return backend.upload(tensor, DType.F32, arena);
    }

    /** A CPU backend computing in {@code dtype} ({@code f32} or {@code bf16}), threads from OpenMP's default. */
    static Backend backend(String dtype) {
        return backend(Device.cpu(), dtype);
    }

    /** A backend on {@code device} (every core on the CPU) with {@code dtype} ({@code f32} or {@code bf16}) weights. */
    static Backend backend(Device device, String dtype) {
        return Backends.open(device, 0, DType.valueOf(dtype.toUpperCase(java.util.Locale.ROOT)));
    }

    /** The threads a stage may use: {@code OMP_NUM_THREADS} when set (as oneDNN reads it), else every core. */
    static int threads() {
        String omp = System.getenv("OMP_NUM_THREADS");
        return omp == null || omp.isBlank() ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(omp.trim());
    }
}
