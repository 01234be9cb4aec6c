package org.florence2j;

import java.nio.file.Path;

/**
 * {@link CancellationCases} on the CPU, on one thread, on a model that coalesces calls: each case's calls, run alone
 * or queued behind a held one, give up and fail as on a model that does not.
 */
class Florence2CoalescedCancellationTest extends CancellationCases {
    @Override
    Florence2 load(Path folder) {
        return Florence2.load(folder, Florence2Options.defaults().withThreads(1).withMaxCoalescedImages(4));
    }
}
