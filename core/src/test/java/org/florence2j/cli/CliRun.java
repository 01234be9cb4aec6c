package org.florence2j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiFunction;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;

/** Runs the command line in-process, capturing stdout and stderr; models stay loaded across runs. */
final class CliRun {
    /** One finished command line. */
    record Result(int code, String out, String err) {}

    /** Keeps one loaded model per folder and options for the whole test class, closed by {@link #close()}. */
    static final class CachedModels implements ModelSource, AutoCloseable {
        private final Map<String, Florence2> loaded = new HashMap<>();
        private final BiFunction<Path, Florence2Options, Florence2> loader;

        /** Loads with {@code loader}, e.g. {@link Florence2#load(Path, Florence2Options)}. */
        CachedModels(BiFunction<Path, Florence2Options, Florence2> loader) {
            this.loader = loader;
        }

        @Override
        public synchronized Florence2 open(Path folder, Florence2Options options) {
            return loaded.computeIfAbsent(folder.toAbsolutePath() + " " + options,
                    key -> loader.apply(folder, options));
        }

        @Override
        public void release(Florence2 model) {}

        @Override
        public synchronized void close() {
            loaded.values().forEach(Florence2::close);
            loaded.clear();
        }
    }

    private CliRun() {}

    static Result run(ModelSource models, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Florence2Command.execute(models, new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }

    /**
     * Runs with stdout and stderr on one terminal, as an interactive shell has them: {@code out} and {@code err}
     * both hold everything written, progress bar included, in the order written.
     */
    static Result runOnOneTerminal(ModelSource models, String... args) {
        StringWriter both = new StringWriter();
        PrintWriter terminal = new PrintWriter(both);
        int code = Florence2Command.execute(models, terminal, terminal, () -> true, args);
        return new Result(code, both.toString(), both.toString());
    }

    /** {@code golden/tiny} in the test resources. */
    static Path goldenRoot() {
        try {
            return Path.of(CliRun.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
