package org.florence2j.backend;

import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.error.Florence2Exception;
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
     * @throws Florence2Exception if no backend for the device is built
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
        return switch (device.kind()) {
            case CPU -> new CpuBackend(cpuThreads);
            case CUDA -> throw new Florence2Exception("CUDA backend not built yet; cannot open " + device
                    + ". Use Device.cpu().");
        };
    }
}
