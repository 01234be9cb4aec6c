package org.florence2j.cli;

import java.nio.file.Path;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;

/**
 * Where the commands get their loaded models. The command line loads one per run and closes it after; a test that
 * drives many runs in one JVM keeps one loaded model instead of loading it for every run.
 */
public interface ModelSource {
    /** Loads a fresh model for each command and closes it when the command is done. */
    ModelSource LOADING = new ModelSource() {
        @Override
        public Florence2 open(Path folder, Florence2Options options) {
            return Florence2.load(folder, options);
        }

        @Override
        public void release(Florence2 model) {
            model.close();
        }
    };

    /** The model in {@code folder}, loaded with {@code options}. */
    Florence2 open(Path folder, Florence2Options options);

    /** Called once a command is done with a model {@link #open} returned. */
    void release(Florence2 model);
}
