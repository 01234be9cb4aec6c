package org.florence2j;

import java.nio.file.Path;
import org.florence2j.backend.ref.ReferenceBackend;

/** Loads a {@link Florence2} on the {@link ReferenceBackend} oracle, for tests in other packages (the CLI's). */
public final class ReferenceModels {
    private ReferenceModels() {}

    /** The model in {@code folder} on a new {@link ReferenceBackend}; {@code options}' device is not used. */
    public static Florence2 load(Path folder, Florence2Options options) {
        return Florence2.load(folder, options, ReferenceBackend::new);
    }
}
