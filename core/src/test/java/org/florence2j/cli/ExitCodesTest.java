package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.TinyModelFolder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every exit code provoked by a real bad input, each with a one-line message on stderr that names the input and
 * no stack trace.
 */
class ExitCodesTest {
    private static final Path ROOT = CliRun.goldenRoot();
    private static final String MODEL = ROOT.resolve("model").toString();
    private static final String IMAGE = ROOT.resolve("images/small_37x29.png").toString();
    private static CliRun.CachedModels models;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        models = new CliRun.CachedModels(Florence2::load);
    }

    @AfterAll
    static void close() {
        models.close();
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertFails(2, "--bogus", "run", "--model", MODEL, "--bogus", IMAGE);
    }

    @Test
    void missingImageArgumentIsAUsageError() {
        assertFails(2, "IMAGE", "run", "--model", MODEL);
    }

    @Test
    void malformedNumberAndZeroBeamsAreUsageErrors() {
        assertFails(2, "--num-beams", "run", "--model", MODEL, "--num-beams", "three", IMAGE);
        assertFails(2, "--num-beams", "run", "--model", MODEL, "--num-beams", "0", IMAGE);
        assertFails(2, "--device", "run", "--model", MODEL, "--device", "tpu", IMAGE);
        assertFails(2, "--early-stopping must be true, false or never, got 'maybe'", "run", "--model", MODEL,
                "--early-stopping", "maybe", IMAGE);
    }

    @Test
    void aBf16DecoderNeedsF32OnTheCpu() {
        assertFails(2, "--bf16-decoder needs --dtype f32 on the cpu, not bf16", "run", "--model", MODEL,
                "--bf16-decoder", "--dtype", "bf16", IMAGE);
        assertFails(2, "--bf16-decoder needs --dtype f32 on the cpu", "run", "--model", MODEL, "--bf16-decoder",
                "--device", "cuda", IMAGE);
    }

    @Test
    void threadsBeyondTheCapAreAUsageError() {
        assertFails(2, "--threads must be 0 to 1024, got 8192", "run", "--model", MODEL, "--threads", "8192", IMAGE);
    }

    @Test
    void requestsTooLargeToSizeAreBadInput() {
        assertFails(3, "fewer images, beams or new tokens", "run", "--model", MODEL, "--num-beams", "100000",
                "--max-new-tokens", "5", IMAGE);
    }

    /**
     * A request the model refuses (here one too large to size a session for) names its image, alone (the message
     * came without it) or among several, where each image's line names its own and the others still run; an image
     * the loader refuses is named once, as the loader names it.
     */
    @Test
    void aRefusedRequestIsNamedWithItsFile() throws IOException {
        assertFails(3, IMAGE + ": a session for 1 images", "run", "--model", MODEL, "--num-beams", "100000",
                "--max-new-tokens", "5", IMAGE);
        String second = ROOT.resolve("images/gradient_160x160.png").toString();
        CliRun.Result both = CliRun.run(models, "run", "--model", MODEL, "--num-beams", "100000",
                "--max-new-tokens", "5", IMAGE, second);
        assertEquals(3, both.code(), "exit code; stderr: " + both.err());
        List<String> lines = both.err().lines().toList();
        assertEquals(2, lines.size(), both.err());
        assertTrue(lines.get(0).startsWith("florence2 run: " + IMAGE + ": a session for 1 images"), both.err());
        assertTrue(lines.get(1).startsWith("florence2 run: " + second + ": a session for 1 images"), both.err());
        String corrupt = Files.writeString(temp.resolve("corrupt.png"), "not a PNG").toString();
        CliRun.Result named = CliRun.run(models, "run", "--model", MODEL, "--num-beams", "1", "--max-new-tokens", "2",
                corrupt, IMAGE);
        assertEquals(3, named.code(), "exit code; stderr: " + named.err());
        assertTrue(named.err().startsWith("florence2 run: image file '" + corrupt + "' is not"), named.err());
        assertEquals(1, named.err().split(Pattern.quote(corrupt), -1).length - 1,
                "named once: " + named.err());
        assertTrue(named.out().startsWith(IMAGE + " (37x29) <CAPTION>"), "the other image still runs: " + named.out());
    }

    @Test
    void newTokensPastAnIntMaxLengthAreAUsageError() {
        assertFails(2, "--max-new-tokens must be 1 to 2147483646, got 2147483647", "run", "--model", MODEL,
                "--max-new-tokens", "2147483647", IMAGE);
    }

    /** A model of 32 positions that never emits EOS: the run reaches them, then fails as bad input. */
    @Test
    void anOutputRunningPastTheDecodersPositionsIsBadInput() {
        String model = TinyModelFolder.in(temp).withPositions(32).addToLogitsBias(2, -60f).path().toString();
        assertFails(3, "ran out of the decoder's 32 learned positions", "run", "--model", model, "--max-new-tokens",
                "33", IMAGE);
    }

    @Test
    void aTimeoutThatIsNotAPositiveNumberOfSecondsIsAUsageError() {
        for (String bad : new String[] {"0", "-1", "1e-10", "NaN", "soon", "1e300"}) {
            assertFails(2, "--timeout", "run", "--model", MODEL, "--timeout", bad, IMAGE);
        }
    }

    /**
     * A microsecond passes before any request reaches the engine: each image's request stops, named with its file,
     * the next image's after the first's; a generous limit changes nothing.
     */
    @Test
    void eachRequestPastItsTimeoutIsNamedAndTheRunExitsWithSix() {
        assertFails(6, IMAGE + ": request stopped before the engine started it: its timeout of 0.001 ms passed",
                "run", "--model", MODEL, "--timeout", "0.000001", IMAGE);
        String second = ROOT.resolve("images/gradient_160x160.png").toString();
        CliRun.Result both = CliRun.run(models, "run", "--model", MODEL, "--timeout", "0.000001", IMAGE, second);
        assertEquals(6, both.code(), "exit code; stderr: " + both.err());
        assertTrue(both.err().contains(IMAGE + ": ") && both.err().contains(second + ": "), both.err());
        assertEquals("", both.out(), "nothing on stdout");
        CliRun.Result generous = CliRun.run(models, "run", "--model", MODEL, "--timeout", "600", "--json",
                "--max-new-tokens", "5", IMAGE, second);
        assertEquals(0, generous.code(), "exit code; stderr: " + generous.err());
        assertEquals(2, generous.out().lines().count(), "one result per image: " + generous.out());
    }

    @Test
    void noCommandIsAUsageError() {
        assertFails(2, "missing command");
    }

    @Test
    void nonexistentImageIsBadInput() {
        String missing = temp.resolve("nope.png").toString();
        assertFails(3, missing, "run", "--model", MODEL, missing);
    }

    @Test
    void corruptImageIsBadInput() throws IOException {
        Path corrupt = temp.resolve("corrupt.png");
        byte[] png = Files.readAllBytes(Path.of(IMAGE));
        Files.write(corrupt, java.util.Arrays.copyOf(png, png.length / 2));
        assertFails(3, corrupt.toString(), "run", "--model", MODEL, corrupt.toString());
    }

    @Test
    void namedPipeAsImageIsBadInputWithoutBeingOpened() throws IOException, InterruptedException {
        Path pipe = Fifos.make(temp.resolve("pipe.png"));
        assertFails(3, "'" + pipe + "' is not a regular file", "run", "--model", MODEL, pipe.toString());
    }

    @Test
    void unknownTaskIsBadInput() {
        assertFails(3, "<DESCRIBE_PLEASE>", "run", "--model", MODEL, "--task", "describe_please", IMAGE);
    }

    @Test
    void textForATaskWithoutTextIsBadInput() {
        assertFails(3, "takes no text", "run", "--model", MODEL, "--task", "OD", "--text", "a dog", IMAGE);
    }

    @Test
    void missingTextForATaskWithTextIsBadInput() {
        assertFails(3, "needs text", "run", "--model", MODEL, "--task", "<OPEN_VOCABULARY_DETECTION>", IMAGE);
    }

    @Test
    void missingModelFolderIsABadModel() {
        String missing = temp.resolve("no-model").toString();
        assertFails(4, missing, "run", "--model", missing, IMAGE);
        assertFails(4, missing, "info", "--model", missing);
        assertFails(4, missing, "tokenize", "--model", missing, "hello");
    }

    @Test
    void corruptSafetensorsIsABadModel() throws IOException {
        Path model = copyOfTheModel("corrupt-model");
        Path weights = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 1000));
        assertFails(4, "model.safetensors", "run", "--model", model.toString(), IMAGE);
        assertFails(4, "model.safetensors", "info", "--model", model.toString());
    }

    /** Reading a named pipe would block until something writes to it: the load would never end. */
    @ParameterizedTest
    @ValueSource(strings = {"tokenizer.json", "tokenizer_config.json", "preprocessor_config.json", "config.json",
            "vocab.json", "merges.txt"})
    void namedPipeAsAModelFileIsABadModelWithoutBeingOpened(String name) throws IOException, InterruptedException {
        Path model = copyOfTheModel("piped-model");
        if (name.equals("vocab.json") || name.equals("merges.txt")) {
            Files.delete(model.resolve("tokenizer.json")); // read only without it
        }
        Files.delete(model.resolve(name));
        Path pipe = Fifos.make(model.resolve(name));
        assertTimeoutPreemptively(Duration.ofMinutes(1),
                () -> assertFails(4, pipe + ": is not a regular file", "run", "--model", model.toString(), IMAGE));
    }

    @Test
    void convertIntoAFolderHoldingAModelNamesTheFolderAndForce() throws IOException {
        Path out = Files.createDirectories(temp.resolve("converted"));
        Files.writeString(out.resolve("model.safetensors"), "an earlier conversion");
        assertFails(4, out.toString(), "convert", "--model", MODEL, "--out", out.toString());
        assertFails(4, "--force", "convert", "--model", MODEL, "--out", out.toString());
    }

    @Test
    void anAbsentCudaDeviceIsANativeProblem() {
        // Device 999: absent with or without a GPU (where CUDA itself is missing, that is the problem named).
        assertFails(5, "cuda", "run", "--model", MODEL, "--device", "cuda:999", IMAGE);
    }

    @Test
    void successIsZero() {
        CliRun.Result run = CliRun.run(models, "run", "--model", MODEL, "--task", "caption", "--num-beams", "1",
                "--max-new-tokens", "4", IMAGE);
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().startsWith(IMAGE + " (37x29) <CAPTION>"), run.out());
        List<Florence2Options> loadedWith = new ArrayList<>();
        try (CliRun.CachedModels recording = new CliRun.CachedModels((folder, options) -> {
            loadedWith.add(options);
            return Florence2.load(folder, options);
        })) {
            CliRun.Result bf16Decoder = CliRun.run(recording, "run", "--model", MODEL, "--task", "caption",
                    "--num-beams", "1", "--max-new-tokens", "4", "--bf16-decoder", IMAGE);
            assertEquals(0, bf16Decoder.code(), bf16Decoder.err());
            assertTrue(bf16Decoder.out().startsWith(IMAGE + " (37x29) <CAPTION>"), bf16Decoder.out());
        }
        assertEquals(1, loadedWith.size());
        assertTrue(loadedWith.getFirst().bf16Decoder(), "--bf16-decoder must reach the options: " + loadedWith);
    }

    @Test
    void helpAndVersionOfEveryCommandExitZeroWithoutItsRequiredOptions() {
        for (String command : List.of("run", "tokenize", "info", "convert")) {
            for (String help : List.of("--help", "-h")) {
                CliRun.Result run = CliRun.run(models, command, help);
                assertEquals(0, run.code(), command + " " + help + "; stderr: " + run.err());
                assertTrue(run.out().startsWith("Usage: florence2 " + command), command + " " + help + ": "
                        + run.out());
                assertEquals("", run.err(), command + " " + help);
            }
            CliRun.Result version = CliRun.run(models, command, "--version");
            assertEquals(0, version.code(), command + " --version; stderr: " + version.err());
            assertTrue(version.out().startsWith("florence2j "), command + " --version: " + version.out());
        }
    }

    private Path copyOfTheModel(String name) throws IOException {
        Path model = temp.resolve(name);
        Files.createDirectories(model);
        try (var files = Files.list(ROOT.resolve("model"))) {
            for (Path file : files.toList()) {
                Files.copy(file, model.resolve(file.getFileName()));
            }
        }
        return model;
    }

    private static void assertFails(int code, String named, String... args) {
        CliRun.Result run = CliRun.run(models, args);
        assertEquals(code, run.code(), "exit code; stderr: " + run.err());
        assertTrue(run.err().contains(named), "stderr names '" + named + "': " + run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertEquals("", run.out(), "nothing on stdout");
    }
}
