package org.florence2j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.PytorchCheckpoint;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TorchCheckpointWriter} read back by florence2j's own {@link PytorchCheckpoint} and by
 * {@link java.util.zip.ZipFile}, and compared with a file torch 1.13 wrote ({@code golden/tiny-bin}): the pickle is
 * byte-identical up to the module-version {@code _metadata} that torch appends and this writer leaves out.
 */
class TorchCheckpointWriterTest {
    /** The core module's goldens; Surefire runs in the module folder. */
    private static final Path GOLDEN = Path.of("../core/src/test/resources/golden");
    private static final String SHARED = "language_model.model.shared.weight";
    private static final String LM_HEAD = "language_model.lm_head.weight";
    private static final List<String> TIED = List.of(SHARED, "language_model.model.encoder.embed_tokens.weight",
            "language_model.model.decoder.embed_tokens.weight", LM_HEAD);

    @TempDir
    Path dir;

    @Test
    void everyDtypeAndRankReadsBackWithSharedStorage() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("f32", filled(DType.F32, new Shape(3, 5), arena));
            tensors.put("f16", filled(DType.F16, new Shape(7), arena));
            tensors.put("bf16", filled(DType.BF16, new Shape(2, 3, 1, 4), arena));
            tensors.put("i64", filled(DType.I64, new Shape(2, 2, 2), arena));
            tensors.put("alias", tensors.get("f32"));
            Path file = dir.resolve("weights.bin");
            TorchCheckpointWriter.write(file, tensors);
            try (PytorchCheckpoint read = PytorchCheckpoint.open(file)) {
                assertEquals(List.copyOf(tensors.keySet()), List.copyOf(read.names()));
                for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                    assertSameTensor(entry.getKey(), entry.getValue(), read.tensor(entry.getKey()));
                }
                assertEquals(read.tensor("f32").memory().address(), read.tensor("alias").memory().address(),
                        "the alias shares the storage");
            }
            assertZipReadableWithValidCrcs(file, 4 + 3);
        }
    }

    @Test
    void tinyModelRoundTripsAndMatchesTorchPickle() throws IOException {
        Path tinyBin = GOLDEN.resolve("tiny-bin/model/pytorch_model.bin");
        Path out = dir.resolve("pytorch_model.bin");
        try (PytorchCheckpoint torch = PytorchCheckpoint.open(tinyBin)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            torch.names().forEach(name -> tensors.put(name, torch.tensor(name)));
            TorchCheckpointWriter.write(out, tensors);
        }
        byte[] ours = entry(out, "pytorch_model/data.pkl");
        byte[] theirs = entry(tinyBin, "pytorch_model/data.pkl");
        // Ours ends SETITEMS STOP; torch's continues after SETITEMS with the _metadata BUILD.
        assertArrayEquals(Arrays.copyOf(theirs, ours.length - 1), Arrays.copyOf(ours, ours.length - 1));
        assertEquals('.', ours[ours.length - 1]);
        assertZipReadableWithValidCrcs(out, 275 + 3);
    }

    @Test
    void safetensorsFolderBecomesALoadableBinFolder() throws IOException {
        Path source = GOLDEN.resolve("tiny/model");
        Path out = dir.resolve("bin");
        TorchCheckpointWriter.convertFolder(source, out);
        assertTrue(Files.notExists(out.resolve("model.safetensors")));
        assertEquals(-1, Files.mismatch(source.resolve("config.json"), out.resolve("config.json")));
        try (LoadedCheckpoint loaded = Checkpoints.open(out);
             SafetensorsFile expected = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            assertEquals(LoadedCheckpoint.Format.PYTORCH_BIN, loaded.format());
            Checkpoint bin = loaded.checkpoint();
            assertEquals(277, bin.names().size());
            for (String name : expected.names()) {
                String stored = name.equals(LM_HEAD) ? SHARED : name;
                assertSameTensor(name, expected.tensor(stored), bin.tensor(name));
            }
            for (String name : TIED) {
                assertEquals(bin.tensor(SHARED).memory().address(), bin.tensor(name).memory().address(), name);
            }
        }
    }

    private static Tensor filled(DType dtype, Shape shape, Arena arena) {
        Tensor tensor = Tensor.allocateHost(dtype, shape, arena);
        for (long i = 0; i < tensor.byteSize(); i++) {
            tensor.memory().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + dtype.ordinal()));
        }
        return tensor;
    }

    private static void assertSameTensor(String name, Tensor expected, Tensor actual) {
        assertEquals(expected.dtype(), actual.dtype(), name);
        assertEquals(expected.shape(), actual.shape(), name);
        assertEquals(-1, expected.memory().mismatch(actual.memory()), name + " differs");
    }

    /**
     * java.util.zip reads every entry and every CRC matches its data; walking the local headers in order (header,
     * data, 16-byte data descriptor), every data record starts at a multiple of 64 bytes.
     */
    private static void assertZipReadableWithValidCrcs(Path file, int entries) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long position = 0;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertEquals(entries, zip.size());
            for (ZipEntry entry : zip.stream().toList()) {
                assertEquals(ZipEntry.STORED, entry.getMethod(), entry.getName());
                byte[] data;
                try (InputStream in = zip.getInputStream(entry)) {
                    data = in.readAllBytes();
                }
                CRC32 crc = new CRC32();
                crc.update(data);
                assertEquals(entry.getCrc(), crc.getValue(), entry.getName());
                int header = Math.toIntExact(position);
                assertEquals(0x04034b50, bytes.getInt(header), entry.getName() + " local header");
                long dataStart = header + 30 + bytes.getShort(header + 26) + bytes.getShort(header + 28);
                assertEquals(0, dataStart % 64, entry.getName() + " data offset");
                position = dataStart + data.length + 16;
            }
        }
    }

    private static byte[] entry(Path file, String name) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile()); InputStream in = zip.getInputStream(zip.getEntry(name))) {
            return in.readAllBytes();
        }
    }
}
