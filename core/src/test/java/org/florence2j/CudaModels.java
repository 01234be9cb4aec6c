package org.florence2j;

import java.nio.file.Path;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.tensor.Device;
import org.junit.jupiter.api.Assumptions;

/** Loads a model folder on {@code cuda:0} through the public API, or aborts the calling test saying why not. */
final class CudaModels {
    private CudaModels() {}

    /**
     * {@link Florence2#load} on {@code cuda:0} in F32. Where no driver, CUDA library or device is present the test
     * aborts with "CUDA unavailable: " and the cause (the only skip the suite allows); any other failure fails it.
     */
    static Florence2 loadOrAbort(Path folder) {
        try {
            return Florence2.load(folder, Florence2Options.defaults().withDevice(Device.cuda(0)));
        } catch (NativeLibraryException | CudaException e) {
            return Assumptions.abort("CUDA unavailable: " + e.getMessage());
        }
    }
}
