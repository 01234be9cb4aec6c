package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code run --draw} and {@code --dump-taps} refuse a file name they cannot write before the model loads, with a
 * one-line message naming the file and the cause, and leave what the name holds as it was.
 */
class OutputFilesTest {
    private static final Path ROOT = CliRun.goldenRoot();
    private static final String MODEL = ROOT.resolve("model").toString();
    private static final String IMAGE = ROOT.resolve("images/small_37x29.png").toString();
    private static final String OTHER_IMAGE = ROOT.resolve("images/noise_173x97.png").toString();

    /** Fails a run that gets as far as loading the model, which these runs must not. */
    private static final ModelSource NEVER_LOADED = new ModelSource() {
        @Override
        public Florence2 open(Path folder, Florence2Options options) {
            throw new IllegalStateException("the model was loaded before the output file was checked");
        }

        @Override
        public void release(Florence2 model) {}
    };

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"--draw", "--dump-taps"})
    void aNamedPipeIsRefusedAndLeftAPipe(String option) throws IOException, InterruptedException {
        Path pipe = Fifos.make(temp.resolve("out.png"));
        assertRefused(pipe + " exists and is a named pipe (FIFO), not a regular file", "run", "--model", MODEL,
                option, pipe.toString(), IMAGE);
        assertTrue(Files.readAttributes(pipe, BasicFileAttributes.class).isOther(), "still a pipe");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--draw", "--dump-taps"})
    void aNamedPipeUnderTheNameOfTheSecondImageIsRefused(String option) throws IOException, InterruptedException {
        Path pipe = Fifos.make(temp.resolve("out-1.png"));
        assertRefused(pipe + " exists and is a named pipe (FIFO)", "run", "--model", MODEL, option,
                temp.resolve("out.png").toString(), IMAGE, OTHER_IMAGE);
        assertTrue(Files.readAttributes(pipe, BasicFileAttributes.class).isOther(), "still a pipe");
        assertFalse(Files.exists(temp.resolve("out-0.png")), "nothing written for the first image");
    }

    /** /proc takes no new file, whoever asks; access(2) still calls it writable for root. */
    @ParameterizedTest
    @ValueSource(strings = {"--draw", "--dump-taps"})
    void aFolderThatTakesNoNewFileIsRefused(String option) {
        assertRefused(option + " /proc/florence2j-out.png: cannot create a file in folder /proc: ", "run", "--model",
                MODEL, option, "/proc/florence2j-out.png", IMAGE);
    }

    /** The name's format is a usage error whether or not its folder exists, so it is reported first. */
    @ParameterizedTest
    @ValueSource(strings = {"out.gif", "missing/out.gif"})
    void aDrawingNamedForAFormatItIsNotWrittenInIsAUsageError(String name) {
        Path gif = temp.resolve(name);
        CliRun.Result run = CliRun.run(NEVER_LOADED, "run", "--model", MODEL, "--draw", gif.toString(), IMAGE);
        assertEquals(ExitCodes.USAGE, run.code(), "exit code; stderr: " + run.err());
        assertTrue(run.err().contains("--draw " + gif + ": the drawing is PNG or JPEG"), run.err());
        assertFalse(Files.exists(gif));
        CliRun.Result missingImage = CliRun.run(NEVER_LOADED, "run", "--model", MODEL, "--draw", gif.toString(),
                temp.resolve("missing.png").toString());
        assertEquals(ExitCodes.USAGE, missingImage.code(), "before the images: " + missingImage.err());
    }

    private static void assertRefused(String named, String... args) {
        CliRun.Result run = CliRun.run(NEVER_LOADED, args);
        assertEquals(ExitCodes.BAD_INPUT, run.code(), "exit code; stderr: " + run.err());
        assertTrue(run.err().contains(named), "stderr names '" + named + "': " + run.err());
        assertEquals(1, run.err().lines().count(), "one line, no stack trace: " + run.err());
        assertEquals("", run.out(), "nothing on stdout");
    }
}
