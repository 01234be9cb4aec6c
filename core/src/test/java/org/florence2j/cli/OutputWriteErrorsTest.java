package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.Caption;
import org.florence2j.InvalidInputException;
import org.florence2j.Task;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * A {@code --draw} or {@code --dump-taps} file that cannot be written when the run gets to it (its folder changed
 * since the checks {@link OutputFiles} makes before the model loads): the message holds the operating system's
 * cause, and nothing is printed besides it.
 */
class OutputWriteErrorsTest {
    private static final Path IMAGE = CliRun.goldenRoot().resolve("images/small_37x29.png");
    /** The causes a file in /proc gives: ENOENT to root, EACCES to anyone else. */
    private static final List<String> CAUSES = List.of("does not exist", "permission denied");

    @Test
    void drawingThatCannotBeWrittenSaysWhy() {
        Path out = Path.of("/proc/florence2j-drawn.png");
        // Drawing a caption reads only its text.
        assertRefusedQuietly("--draw " + out + " cannot be written: ",
                () -> ResultDrawing.write(new Caption("a shape", null), IMAGE, out));
    }

    @Test
    void tapsThatCannotBeWrittenSayWhy() {
        Path out = Path.of("/proc/florence2j-taps.safetensors");
        try (TapRecorder taps = new TapRecorder()) {
            assertRefusedQuietly("--dump-taps " + out + ": cannot be written: ",
                    () -> taps.write(out, IMAGE, Task.CAPTION, Task.CAPTION.token()));
        }
    }

    private static void assertRefusedQuietly(String prefix, Executable write) {
        PrintStream stderr = System.err;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        InvalidInputException refused;
        System.setErr(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            refused = assertThrows(InvalidInputException.class, write);
        } finally {
            System.setErr(stderr);
        }
        String message = refused.getMessage();
        assertTrue(message.startsWith(prefix) && CAUSES.contains(message.substring(prefix.length())), message);
        assertEquals("", printed.toString(StandardCharsets.UTF_8), "printed on stderr besides the message");
    }
}
