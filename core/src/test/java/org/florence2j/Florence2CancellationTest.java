package org.florence2j;

import java.nio.file.Path;

/** {@link CancellationCases} on the CPU, on one thread. */
class Florence2CancellationTest extends CancellationCases {
    @Override
    Florence2 load(Path folder) {
        return Florence2.load(folder, Florence2Options.defaults().withThreads(1));
    }
}
