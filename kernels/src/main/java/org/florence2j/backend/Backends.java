package org.florence2j.backend;

import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.backend.cuda.CudaSettings;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;

/**
 * Opens the {@link Backend} for a device. Selection is explicit: the call either returns a working backend or
 * throws a typed exception saying why.
 */
public final class Backends {
    private Backends() {}

    /**
     * Opens a backend on {@code device} with default settings (on the CPU: the OpenMP default thread count).
     *
     * @throws org.florence2j.bindings.NativeLibraryException if the device's native library cannot be loaded
     * @throws org.florence2j.bindings.CudaException if CUDA reports an error opening the device
     */
    public static Backend open(Device device) {
        return open(device, 0);
    }

    /**
     * Opens a backend on {@code device}.
     *
     * @param cpuThreads on the CPU, the threads each op may use (0: OpenMP's default, {@code OMP_NUM_THREADS} or
     *                   every core); ignored by other devices
     */
    public static Backend open(Device device, int cpuThreads) {
        return open(device, cpuThreads, DType.F32);
    }

    /**
     * Opens a backend on {@code device} that computes in {@code dtype} where it can.
     *
     * @param cpuThreads on the CPU, the threads each op may use (0: OpenMP's default)
     * @param dtype      {@link DType#BF16} makes the CPU backend compute matmuls and convolutions in bf16 with f32
     *                   accumulation ({@link CpuBackend#CpuBackend(int, DType)}); F16 has no CPU kernels and runs
     *                   in F32 there. On CUDA, F16 and BF16 keep linear weights in that type and run their GEMMs on
     *                   tensor cores with f32 accumulation ({@link CudaSettings#linearWeights}); the rest is F32
     */
    public static Backend open(Device device, int cpuThreads, DType dtype) {
        return switch (device.kind()) {
            case CPU -> new CpuBackend(cpuThreads, dtype == DType.BF16 ? DType.BF16 : DType.F32);
            case CUDA -> CudaBackend.open(device.ordinal(), CudaSettings.fromSystemProperties()
                    .withLinearWeights(dtype == DType.F16 || dtype == DType.BF16 ? dtype : DType.F32));
        };
    }
}
