package org.florence2j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * A one-line progress bar on stderr, redrawn in place with a carriage return. Drawn only when stderr is a terminal
 * and there is more than one image, so that redirected stderr holds only messages, and a bar still shows while
 * stdout goes to a file.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final int total;
    private final boolean shown;
    private final long startNanos = System.nanoTime();
    private int done;

    private ProgressBar(PrintWriter err, int total, boolean shown) {
        this.err = err;
        this.total = total;
        this.shown = shown;
    }

    /**
     * A bar over {@code total} images, drawn only if there are several and {@code err} is a terminal (asked only
     * then: {@code errIsTerminal} may call the C library).
     */
    static ProgressBar onTerminal(PrintWriter err, int total, BooleanSupplier errIsTerminal) {
        return new ProgressBar(err, total, total > 1 && errIsTerminal.getAsBoolean());
    }

    /** Counts one image as done, {@code file} the last one. */
    void step(Path file) {
        done++;
        if (!shown) {
            return;
        }
        int filled = done * WIDTH / total;
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        err.printf("\r[%s%s] %d/%d %.1fs %s\u001b[K", "#".repeat(filled), " ".repeat(WIDTH - filled), done, total,
                seconds, file.getFileName());
        err.flush();
    }

    /**
     * Wipes the bar so that a message or a result can be printed on a clean line: stdout is often the same
     * terminal, where a result would otherwise continue the bar's line.
     */
    void clearLine() {
        if (shown && done > 0) {
            err.print("\r\u001b[K");
            err.flush();
        }
    }

    @Override
    public void close() {
        if (shown && done > 0) {
            err.println();
            err.flush();
        }
    }
}
