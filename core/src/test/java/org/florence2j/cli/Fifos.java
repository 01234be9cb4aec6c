package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Named pipes (FIFOs) for tests: Java has no call that makes one, so {@code mkfifo(1)} does. */
final class Fifos {
    private Fifos() {}

    /** Makes a named pipe at {@code path} with coreutils' mkfifo, which every Linux the project builds on has. */
    static Path make(Path path) throws IOException, InterruptedException {
        Process mkfifo = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
        String output = new String(mkfifo.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, mkfifo.waitFor(), "mkfifo " + path + ": " + output);
        return path;
    }
}
