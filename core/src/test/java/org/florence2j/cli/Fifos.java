package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Named pipes (FIFOs) for tests: Java has no call that makes one, so {@code mkfifo(1)} does. */
final class Fifos {
    private Fifos() {}

    /** Makes a named pipe at {@code path}; the test is skipped, saying why, where there is no mkfifo. */
    static Path make(Path path) throws IOException, InterruptedException {
        Process mkfifo;
        try {
            mkfifo = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return Assumptions.abort("no mkfifo to make a named pipe with: " + e.getMessage());
        }
        String output = new String(mkfifo.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, mkfifo.waitFor(), "mkfifo " + path + ": " + output);
        return path;
    }
}
