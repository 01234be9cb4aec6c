package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.florence2j.checkpoint.TestFiles.floats;
import static org.florence2j.checkpoint.TestFiles.safetensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link SafetensorsFile}: known bytes read back, the golden files read back exactly, corrupt files refused. */
class SafetensorsFileTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void readsHandWrittenFileWithEveryDtype() {
        ByteBuffer data = ByteBuffer.allocate(8 + 4 + 8 + 2 + 2 + 3).order(ByteOrder.LITTLE_ENDIAN);
        data.putFloat(1.5f).putFloat(-2.25f);           // a: F32 [2]
        data.putInt(-7);                                // b: I32 []
        data.putLong(1L << 40);                         // c: I64 [1]
        data.putShort(Float.floatToFloat16(0.5f));      // d: F16 [1]
        data.putShort((short) 0x3FC0);                  // e: BF16 [1] = 1.5
        data.put((byte) 200).put((byte) 0).put((byte) 7); // f: U8 [3]
        Path file = safetensors(dir.resolve("all.safetensors"), """
                {"__metadata__":{"format":"pt"},
                 "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                 "b":{"dtype":"I32","shape":[],"data_offsets":[8,12]},
                 "c":{"dtype":"I64","shape":[1],"data_offsets":[12,20]},
                 "d":{"dtype":"F16","shape":[1],"data_offsets":[20,22]},
                 "e":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]},
                 "f":{"dtype":"U8","shape":[3],"data_offsets":[24,27]}}""", data.array());
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertEquals(List.of("a", "b", "c", "d", "e", "f"), List.copyOf(st.names()));
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertArrayEquals(new float[] {1.5f, -2.25f}, st.tensor("a").toFloatArray());
            assertEquals(new Shape(), st.tensor("b").shape());
            assertEquals(-7, st.tensor("b").getLong(0));
            assertEquals(1L << 40, st.tensor("c").getLong(0));
            assertEquals(0.5f, st.tensor("d").getFloat(0));
            assertEquals(DType.BF16, st.tensor("e").dtype());
            assertEquals(1.5f, st.tensor("e").getFloat(0));
            assertArrayEquals(new long[] {200, 0, 7}, st.tensor("f").toLongArray());
        }
    }

    @Test
    void tensorsAreUnusableAfterClose() {
        Path file = safetensors(dir.resolve("one.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats(3f));
        SafetensorsFile st = SafetensorsFile.open(file);
        Tensor a = st.tensor("a");
        st.close();
        assertThrows(IllegalStateException.class, () -> a.getFloat(0));
    }

    @Test
    void goldenModelMatchesModelInfo() throws IOException {
        JsonNode info = JSON.readTree(TestFiles.golden("tiny/model_info.json").toFile()).get("safetensors_keys");
        try (SafetensorsFile st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            assertEquals(info.size(), st.names().size());
            for (var entry : info.properties()) {
                int[] dims = new int[entry.getValue().size()];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = entry.getValue().get(i).asInt();
                }
                assertEquals(new Shape(dims), st.tensor(entry.getKey()).shape(), entry.getKey());
                assertEquals(DType.F32, st.tensor(entry.getKey()).dtype());
            }
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    /** Every golden file agrees, value for value, with a plain ByteBuffer parse of the same bytes. */
    @Test
    void goldenFilesReadBackExactly() throws IOException {
        List<Path> files = new ArrayList<>();
        files.add(TestFiles.golden("tiny/model/model.safetensors"));
        try (Stream<Path> cases = Files.list(TestFiles.golden("tiny/cases"))) {
            cases.sorted().forEach(files::add);
        }
        for (Path file : files) {
            ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            int headerBytes = (int) bytes.getLong(0);
            JsonNode header = JSON.readTree(new String(bytes.array(), 8, headerBytes, "UTF-8"));
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                for (var entry : header.properties()) {
                    if (entry.getKey().equals("__metadata__")) {
                        continue;
                    }
                    compare(file, entry.getKey(), entry.getValue(), bytes, 8 + headerBytes, st.tensor(entry.getKey()));
                }
            }
        }
    }

    private static void compare(Path file, String name, JsonNode entry, ByteBuffer bytes, int dataStart,
                                Tensor actual) {
        assertEquals(entry.get("dtype").asText(), actual.dtype().safetensorsName(), name);
        int begin = dataStart + entry.get("data_offsets").get(0).asInt();
        int count = (int) actual.elementCount();
        // A sample of elements (first, last, and a stride through the middle) keeps this fast on the 51289-row tables.
        int step = Math.max(1, count / 997);
        for (int i = 0; i < count; i = i == count - 1 ? count : Math.min(count - 1, i + step)) {
            int index = i;
            Supplier<String> where = () -> file.getFileName() + " " + name + "[" + index + "]";
            switch (actual.dtype()) {
                case F32 -> assertEquals(Float.floatToRawIntBits(bytes.getFloat(begin + 4 * i)),
                        Float.floatToRawIntBits(actual.getFloat(i)), where);
                case I64 -> assertEquals(bytes.getLong(begin + 8 * i), actual.getLong(i), where);
                case U8 -> assertEquals(bytes.get(begin + i) & 0xFF, actual.getLong(i), where);
                case I32 -> assertEquals(bytes.getInt(begin + 4 * i), actual.getLong(i), where);
                default -> throw new AssertionError("unexpected dtype in golden file: " + where.get());
            }
        }
    }

    @Test
    void fileShorterThanEightBytes() {
        Path file = TestFiles.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3});
        assertCheckpointError(() -> SafetensorsFile.open(file), "short.safetensors", "3 bytes");
    }

    @Test
    void truncatedHeader() {
        Path file = safetensors(dir.resolve("t.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats(1f));
        byte[] all = readAll(file);
        Path cut = TestFiles.write(dir.resolve("cut.safetensors"), Arrays.copyOf(all, 20));
        assertCheckpointError(() -> SafetensorsFile.open(cut), "cut.safetensors", "exceeds the file");
    }

    @Test
    void truncatedData() {
        Path file = safetensors(dir.resolve("t.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", floats(1f, 2f));
        assertCheckpointError(() -> SafetensorsFile.open(file), "t.safetensors", "tensor 'a'", "[0,16)",
                "exceed data section (8 bytes)");
    }

    @Test
    void hugeHeaderLength() {
        ByteBuffer bytes = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        Path file = TestFiles.write(dir.resolve("huge.safetensors"), bytes.array());
        assertCheckpointError(() -> SafetensorsFile.open(file), "huge.safetensors", "header length", "limit");
        ByteBuffer negative = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5);
        Path file2 = TestFiles.write(dir.resolve("neg.safetensors"), negative.array());
        assertCheckpointError(() -> SafetensorsFile.open(file2), "neg.safetensors", "header length");
    }

    @Test
    void badJson() {
        Path file = safetensors(dir.resolve("bad.safetensors"), "{\"a\":{\"dtype\":", new byte[0]);
        assertCheckpointError(() -> SafetensorsFile.open(file), "bad.safetensors", "not valid JSON");
    }

    @Test
    void fractionalShapeOrOffsetsAreRefused() {
        Path shape = safetensors(dir.resolve("shape.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.7],\"data_offsets\":[0,8]}}", floats(1f, 2f));
        assertCheckpointError(() -> SafetensorsFile.open(shape), "shape.safetensors", "'w'", "shape [2.7]");
        Path offsets = safetensors(dir.resolve("offsets.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.0,8]}}", floats(1f, 2f));
        assertCheckpointError(() -> SafetensorsFile.open(offsets), "offsets.safetensors", "'w'", "data_offsets");
    }

    @Test
    void headerThatIsNotUtf8IsRefused() {
        byte[] header = "{\"w\u00ff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                .getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(header.length).put(header).putFloat(1f);
        Path file = TestFiles.write(dir.resolve("latin1.safetensors"), bytes.array());
        assertCheckpointError(() -> SafetensorsFile.open(file), "latin1.safetensors", "header is not valid UTF-8");
    }

    @Test
    void headerNotAnObject() {
        Path file = safetensors(dir.resolve("array.safetensors"), "[1,2]", new byte[0]);
        assertCheckpointError(() -> SafetensorsFile.open(file), "array.safetensors", "not a JSON object");
        Path entry = safetensors(dir.resolve("entry.safetensors"), "{\"a\":5}", new byte[0]);
        assertCheckpointError(() -> SafetensorsFile.open(entry), "entry.safetensors", "tensor 'a'", "not an object");
    }

    @Test
    void offsetsPastTheEnd() {
        Path file = safetensors(dir.resolve("past.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", floats(1f, 2f));
        CheckpointException error = assertCheckpointError(() -> SafetensorsFile.open(file), "past.safetensors",
                "tensor 'w'", "[8,12)", "(8 bytes)");
        assertEquals("w", error.tensor().orElseThrow());
        assertEquals(8, error.byteOffset());
        Path reversed = safetensors(dir.resolve("rev.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", floats(1f, 2f));
        assertCheckpointError(() -> SafetensorsFile.open(reversed), "tensor 'w'", "[4,0)");
    }

    @Test
    void overlappingTensors() {
        Path file = safetensors(dir.resolve("overlap.safetensors"), """
                {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                 "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", floats(1f, 2f, 3f));
        assertCheckpointError(() -> SafetensorsFile.open(file), "overlap.safetensors", "tensor 'b'", "[4,12)",
                "overlap tensor 'a' [0,8)");
    }

    @Test
    void unknownDtype() {
        Path file = safetensors(dir.resolve("dtype.safetensors"),
                "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", new byte[4]);
        assertCheckpointError(() -> SafetensorsFile.open(file), "dtype.safetensors", "tensor 'q'", "'F8_E4M3'");
    }

    @Test
    void shapeSizeMismatch() {
        Path file = safetensors(dir.resolve("size.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", new byte[16]);
        assertCheckpointError(() -> SafetensorsFile.open(file), "size.safetensors", "tensor 'm'", "[0,16)",
                "16 bytes", "needs 24");
        Path overflow = safetensors(dir.resolve("overflow.safetensors"), "{\"m\":{\"dtype\":\"F32\","
                + "\"shape\":[2147483647,2147483647,2147483647,8],\"data_offsets\":[0,0]}}", new byte[0]);
        assertCheckpointError(() -> SafetensorsFile.open(overflow), "tensor 'm'", "needs over 2^63");
    }

    @Test
    void missingFields() {
        Path noShape = safetensors(dir.resolve("noshape.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]);
        assertCheckpointError(() -> SafetensorsFile.open(noShape), "tensor 'm'", "shape");
        Path badDim = safetensors(dir.resolve("dim.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertCheckpointError(() -> SafetensorsFile.open(badDim), "tensor 'm'", "shape");
        Path noOffsets = safetensors(dir.resolve("nooff.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]);
        assertCheckpointError(() -> SafetensorsFile.open(noOffsets), "tensor 'm'", "data_offsets");
    }

    @Test
    void missingTensorNamesFileAndTensor() {
        Path file = safetensors(dir.resolve("one.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats(3f));
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertCheckpointError(() -> st.tensor("b"), "one.safetensors", "tensor 'b'", "missing");
        }
    }

    @Test
    void missingFile() {
        assertCheckpointError(() -> SafetensorsFile.open(dir.resolve("absent.safetensors")), "absent.safetensors");
    }

    private static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
