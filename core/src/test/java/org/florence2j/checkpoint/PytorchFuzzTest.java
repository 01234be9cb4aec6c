package org.florence2j.checkpoint;

import static org.florence2j.ByteMutations.mutate;
import static org.florence2j.checkpoint.TestFiles.floats;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates the golden data.pkl and a small torch archive many times (seeded, so a failure reproduces) and requires
 * every outcome to be either a successful read or a {@link CheckpointException}: never another exception, a crash,
 * or a hang. A few seconds in all.
 */
class PytorchFuzzTest {
    private static final long SEED = 20260601L;

    @TempDir
    Path dir;

    @Test
    void mutatedTinyPickleGivesOnlyTypedErrors() throws IOException {
        byte[] original = PytorchCheckpointTest.tinyPickle();
        Random random = new Random(SEED);
        int refused = 0;
        int iterations = 2000;
        for (int iteration = 0; iteration < iterations; iteration++) {
            byte[] mutated = mutate(original, random);
            try {
                RestrictedUnpickler.read(dir, "data.pkl", MemorySegment.ofArray(mutated));
            } catch (CheckpointException expected) {
                refused++;
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                throw new AssertionError("pickle mutation " + iteration + " (seed " + SEED + ") threw " + e, e);
            }
        }
        assertTrue(refused > iterations / 2, "most mutations should be refused, only " + refused + " were");
    }

    @Test
    void mutatedArchiveGivesOnlyTypedErrors() {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("weight", "0");
        keys.put("bias", "1");
        keys.put("tied", "0");
        byte[] pickle = TestFiles.stateDict(keys, Map.of("weight", new long[] {2, 3}, "bias", new long[] {3},
                "tied", new long[] {6}));
        Map<String, byte[]> storages = new LinkedHashMap<>();
        storages.put("0", floats(1, 2, 3, 4, 5, 6));
        storages.put("1", floats(7, 8, 9));
        byte[] original = TestFiles.torchZip(pickle, storages);
        try (PytorchCheckpoint intact = PytorchCheckpoint.open(TestFiles.write(dir.resolve("intact.bin"), original))) {
            assertTrue(intact.names().contains("tied"));
        }
        Random random = new Random(SEED + 1);
        Path file = dir.resolve("fuzz.bin");
        int refused = 0;
        for (int iteration = 0; iteration < 1000; iteration++) {
            TestFiles.write(file, mutate(original, random));
            try (PytorchCheckpoint checkpoint = PytorchCheckpoint.open(file)) {
                for (String name : checkpoint.names()) {
                    checkpoint.tensor(name).toFloatArray();
                }
            } catch (CheckpointException expected) {
                refused++; // refused with the typed error: what the test requires
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                throw new AssertionError("archive mutation " + iteration + " (seed " + SEED + ") threw " + e, e);
            }
        }
        // A mutation of the data bytes alone leaves a valid archive; nearly every other is refused (956 here).
        assertTrue(refused > 800, "most mutations should be refused, only " + refused + " were");
    }
}
