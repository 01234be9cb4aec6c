package org.florence2j;

import java.nio.file.Path;

/**
 * {@link CancellationCases} on {@code cuda:0}, where the engine issues work ahead of the device and replays captured
 * decoder steps: a stopped request must leave neither half-issued work nor a graph behind that changes the next
 * request's ids. Aborts with the reason where CUDA is unavailable.
 */
class Florence2CudaCancellationTest extends CancellationCases {
    @Override
    Florence2 load(Path folder) {
        return CudaModels.loadOrAbort(folder);
    }
}
