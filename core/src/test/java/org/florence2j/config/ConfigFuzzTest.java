package org.florence2j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;
import org.florence2j.JsonMutations;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.image.PreprocessorConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Edits the golden models' configs many times (seeded, so a failure reproduces): values of the wrong kind or size
 * anywhere in the tree, fields dropped or copied. Every outcome must be a config or a {@link CheckpointException}
 * naming the file at fault: never another exception or an error. A few seconds in all.
 */
class ConfigFuzzTest {
    private static final long SEED = 20261128L;
    private static final int ITERATIONS = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path TINY = Path.of("src/test/resources/golden/tiny/model");
    private static final Path NATIVE = Path.of("src/test/resources/golden/tiny-native/model");

    @TempDir
    Path dir;

    @Test
    void remoteConfig() throws IOException {
        Path config = dir.resolve("config.json");
        // Most edits land on keys the reference never reads (ids, architectures, …), and pass: 164 refused here.
        fuzz(TINY.resolve("config.json"), config, SEED, ConfigReader::read, 100);
    }

    @Test
    void nativeConfig() throws IOException {
        Path config = dir.resolve("config.json");
        Path generation = Files.copy(NATIVE.resolve("generation_config.json"), dir.resolve("generation_config.json"));
        fuzz(NATIVE.resolve("config.json"), config, SEED + 1, file -> NativeConfigReader.read(file, generation),
                150); // 248 here
    }

    /** Without _from_model_config, generate() takes every setting from this file, so its faults are its own. */
    @Test
    void nativeGenerationConfig() throws IOException {
        Path config = Files.copy(NATIVE.resolve("config.json"), dir.resolve("config.json"));
        Path generation = dir.resolve("generation_config.json");
        fuzz(NATIVE.resolve("generation_config.json"), generation, SEED + 2,
                file -> NativeConfigReader.read(config, file), 400); // 637 here
    }

    @Test
    void preprocessorConfig() throws IOException {
        Path config = dir.resolve("preprocessor_config.json");
        fuzz(TINY.resolve("preprocessor_config.json"), config, SEED + 3, PreprocessorConfig::read, 350); // 545 here
    }

    /**
     * Writes {@link #ITERATIONS} edits of {@code golden} to {@code file} and reads each with {@code reader}, requiring
     * more than {@code leastRefused} of them refused, so that the edits reach what the reader checks.
     */
    private static void fuzz(Path golden, Path file, long seed, Function<Path, ?> reader, int leastRefused)
            throws IOException {
        ObjectNode original = (ObjectNode) JSON.readTree(golden.toFile());
        Random random = new Random(seed);
        int refused = 0;
        for (int iteration = 0; iteration < ITERATIONS; iteration++) {
            ObjectNode edited = JsonMutations.edited(original, random);
            Files.write(file, JSON.writeValueAsBytes(edited));
            try {
                reader.apply(file);
            } catch (CheckpointException e) {
                String edit = "edit " + iteration;
                assertEquals(file, e.file(), () -> edit + " blamed another file: " + e.getMessage());
                refused++;
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                throw new AssertionError(file.getFileName() + " edit " + iteration + " (seed " + seed + ") threw "
                        + e + ": " + edited, e);
            }
        }
        assertTrue(refused > leastRefused, "only " + refused + " of " + ITERATIONS + " edits were refused");
    }
}
