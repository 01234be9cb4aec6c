package org.florence2j.checkpoint;

import static org.florence2j.ByteMutations.mutate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import org.florence2j.JsonMutations;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates a small safetensors file many times (seeded, so a failure reproduces), as bytes and as header values, and
 * requires every outcome to be either a file whose every tensor reads back or a {@link CheckpointException}: never
 * another exception, an error, or a read outside the file. About a second.
 */
class SafetensorsFuzzTest {
    private static final long SEED = 20261128L;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HEADER = """
            {"__metadata__":{"format":"pt"},
             "a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
             "b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},
             "c":{"dtype":"F16","shape":[],"data_offsets":[32,34]},
             "d":{"dtype":"I64","shape":[1,1],"data_offsets":[34,42]},
             "e":{"dtype":"U8","shape":[3],"data_offsets":[42,45]}}""";
    private static final int DATA_BYTES = 45;

    @TempDir
    Path dir;

    @Test
    void mutatedBytesGiveOnlyTypedErrors() {
        byte[] original = file(HEADER.getBytes(StandardCharsets.UTF_8));
        assertEquals(5, readAll(TestFiles.write(dir.resolve("intact.safetensors"), original)));
        Random random = new Random(SEED);
        Path file = dir.resolve("fuzz.safetensors");
        int refused = 0;
        int iterations = 1500;
        for (int iteration = 0; iteration < iterations; iteration++) {
            TestFiles.write(file, mutate(original, random));
            refused += outcome(file, "byte mutation " + iteration);
        }
        // Edits of the data section leave a valid file; nearly every edit of the header is refused (1,464 here).
        assertTrue(refused > iterations * 9 / 10, "most mutations should be refused, only " + refused + " were");
    }

    /** Header values replaced by other JSON values, fields dropped, entries duplicated: valid JSON, bad headers. */
    @Test
    void mutatedHeaderValuesGiveOnlyTypedErrors() throws IOException {
        ObjectNode original = (ObjectNode) JSON.readTree(HEADER);
        Random random = new Random(SEED + 1);
        Path file = dir.resolve("fuzz.safetensors");
        int refused = 0;
        int iterations = 1500;
        for (int iteration = 0; iteration < iterations; iteration++) {
            ObjectNode header = JsonMutations.edited(original, random);
            TestFiles.write(file, file(JSON.writeValueAsBytes(header)));
            refused += outcome(file, "header mutation " + iteration + ": " + header);
        }
        // Some edits leave a valid header (an unused metadata value, a copied entry that overlaps none): 1,324 here.
        assertTrue(refused > iterations * 3 / 4, "most mutations should be refused, only " + refused + " were");
    }

    /** 1 when the file is refused with the typed error, 0 when every tensor reads; any other outcome fails. */
    private static int outcome(Path file, String mutation) {
        try {
            readAll(file);
            return 0;
        } catch (CheckpointException expected) {
            assertTrue(expected.getMessage().contains(file.toString()),
                    () -> "message does not name the file: " + expected.getMessage());
            return 1;
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            throw new AssertionError(mutation + " (seed " + SEED + ") threw " + e, e);
        }
    }

    private static int readAll(Path file) {
        try (SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            for (String name : checkpoint.names()) {
                Tensor tensor = checkpoint.tensor(name);
                if (tensor.dtype().isFloatingPoint()) {
                    tensor.toFloatArray();
                } else {
                    tensor.toLongArray();
                }
            }
            return checkpoint.names().size();
        }
    }

    /** The 8-byte header length, the header, then {@value #DATA_BYTES} bytes of data. */
    private static byte[] file(byte[] header) {
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + DATA_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(header.length).put(header);
        for (int i = 0; i < DATA_BYTES; i++) {
            bytes.put((byte) (i * 37));
        }
        return bytes.array();
    }
}
