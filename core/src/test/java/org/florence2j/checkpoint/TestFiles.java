package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.florence2j.config.VisionConfig;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Assertions;

/** Writers of small checkpoint files with known bytes, for reader tests; independent of the readers. */
final class TestFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TestFiles() {}

    /** The golden test resources folder {@code golden/<name>}. */
    static Path golden(String name) {
        try {
            return Paths.get(TestFiles.class.getResource("/golden/" + name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException("test resource golden/" + name + " is missing", e);
        }
    }

    /** Writes a safetensors file: 8-byte little-endian header length, the header text, then {@code data}. */
    static Path safetensors(Path file, String header, byte[] data) {
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + text.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(text.length).put(text).put(data);
        return write(file, buffer.array());
    }

    /** Writes {@code tensors} as a safetensors file, in map order, with {@code {"format":"pt"}} metadata. */
    static Path safetensors(Path file, Map<String, Tensor> tensors) {
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            Tensor tensor = entry.getValue();
            long begin = data.size();
            data.writeBytes(tensor.memory().toArray(ValueLayout.JAVA_BYTE));
            header.append(",\"").append(entry.getKey()).append("\":{\"dtype\":\"")
                    .append(tensor.dtype().safetensorsName()).append("\",\"shape\":")
                    .append(tensor.shape()).append(",\"data_offsets\":[").append(begin).append(',')
                    .append(data.size()).append("]}");
        }
        return safetensors(file, header.append('}').toString(), data.toByteArray());
    }

    /** Little-endian float32 bytes of {@code values}. */
    static byte[] floats(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A zip of stored (uncompressed) entries, in insertion order, as torch.save writes it. */
    static byte[] storedZip(Map<String, byte[]> entries) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
                ZipEntry zipEntry = new ZipEntry(entry.getKey());
                zipEntry.setMethod(ZipEntry.STORED);
                zipEntry.setSize(entry.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(entry.getValue());
                zipEntry.setCrc(crc.getValue());
                zip.putNextEntry(zipEntry);
                zip.write(entry.getValue());
                zip.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** A torch-style archive: {@code archive/data.pkl}, then {@code archive/data/<key>} per storage, then version. */
    static byte[] torchZip(byte[] pickle, Map<String, byte[]> storages) {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pickle);
        storages.forEach((key, data) -> entries.put("archive/data/" + key, data));
        entries.put("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return storedZip(entries);
    }

    /**
     * Asserts that two vision configs hold the same fields, whichever reference each was read for (a native config
     * and its remote-code conversion).
     */
    static void assertSameVisionFields(VisionConfig expected, VisionConfig actual) {
        ObjectNode expectedFields = JSON.valueToTree(expected);
        ObjectNode actualFields = JSON.valueToTree(actual);
        expectedFields.remove("implementation");
        actualFields.remove("implementation");
        Assertions.assertEquals(expectedFields, actualFields);
    }

    /** Asserts that {@code action} throws a CheckpointException whose message contains every fragment. */
    static CheckpointException assertCheckpointError(Runnable action, String... fragments) {
        CheckpointException error = Assertions.assertThrows(CheckpointException.class, action::run);
        for (String fragment : fragments) {
            Assertions.assertTrue(error.getMessage().contains(fragment),
                    "message lacks '" + fragment + "': " + error.getMessage());
        }
        return error;
    }

    /** Emits protocol-2 pickle opcodes, as Python's pickle writes them. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int opcode) {
            out.write(opcode);
            return this;
        }

        Pickle proto() {
            return op(0x80).op(2);
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Pickle string(String text) {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            op('X');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
            out.writeBytes(utf8);
            return this;
        }

        Pickle integer(long value) {
            if (value >= 0 && value < 256) {
                return op('K').op((int) value);
            }
            op('J');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) value).array());
            return this;
        }

        Pickle ints(long... values) {
            op('(');
            for (long value : values) {
                integer(value);
            }
            return op('t');
        }

        Pickle mark() {
            return op('(');
        }

        Pickle tuple() {
            return op('t');
        }

        /** {@code OrderedDict()}: GLOBAL, EMPTY_TUPLE, REDUCE. */
        Pickle orderedDict() {
            return global("collections", "OrderedDict").op(')').op('R');
        }

        /**
         * {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())} with a persistent storage
         * {@code ('storage', torch.<storageType>, key, 'cpu', numel)}.
         */
        Pickle tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
            global("torch._utils", "_rebuild_tensor_v2").mark();
            mark().string("storage").global("torch", storageType).string(key).string("cpu").integer(numel).tuple();
            op('Q').integer(offset).ints(size).ints(stride).op(0x89).orderedDict();
            return tuple().op('R');
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** A state dict pickle {@code OrderedDict(name -> F32 contiguous tensor over storage key)}. */
    static byte[] stateDict(Map<String, String> storageKeyOf, Map<String, long[]> sizeOf) {
        Pickle pickle = new Pickle().proto().orderedDict().mark();
        for (Map.Entry<String, String> entry : storageKeyOf.entrySet()) {
            long[] size = sizeOf.get(entry.getKey());
            long[] stride = new long[size.length];
            long numel = 1;
            for (int i = size.length - 1; i >= 0; i--) {
                stride[i] = numel;
                numel *= size[i];
            }
            pickle.string(entry.getKey()).tensor("FloatStorage", entry.getValue(), numel, 0, size, stride);
        }
        return pickle.op('u').op('.').bytes();
    }
}
