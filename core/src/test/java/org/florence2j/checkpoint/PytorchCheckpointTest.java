package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.florence2j.checkpoint.TestFiles.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.florence2j.checkpoint.TestFiles.Pickle;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PytorchCheckpoint}: the golden torch.save files read back exactly; hostile files are refused. */
class PytorchCheckpointTest {
    private static final String SHARED = "language_model.model.shared.weight";
    private static final List<String> TIED = List.of(SHARED, "language_model.model.encoder.embed_tokens.weight",
            "language_model.model.decoder.embed_tokens.weight");

    @TempDir
    Path dir;

    @Test
    void tinyBinEqualsSafetensorsBitForBit() {
        try (var bin = PytorchCheckpoint.open(TestFiles.golden("tiny-bin/model/pytorch_model.bin"));
             var st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            assertEquals(277, bin.names().size());
            assertEquals("image_projection", bin.names().iterator().next(), "state_dict order kept");
            assertTrue(bin.names().containsAll(st.names()));
            for (String name : st.names()) {
                Tensor expected = st.tensor(name);
                Tensor actual = bin.tensor(name);
                assertEquals(expected.dtype(), actual.dtype(), name);
                assertEquals(expected.shape(), actual.shape(), name);
                assertEquals(-1, expected.memory().mismatch(actual.memory()), name + " differs");
            }
            for (String tied : TIED) {
                assertEquals(-1, st.tensor(SHARED).memory().mismatch(bin.tensor(tied).memory()), tied);
            }
            assertSharesStorage(bin, TIED);
            assertFalse(sameAddress(bin.tensor(SHARED), bin.tensor("language_model.lm_head.weight")),
                    "lm_head has its own storage in this file");
        }
    }

    @Test
    void torch2HalfCheckpointEqualsSafetensorsRoundedToF16() {
        try (var bin = PytorchCheckpoint.open(TestFiles.golden("tiny-bin/model-f16-torch2/pytorch_model.bin"));
             var st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            assertEquals(277, bin.names().size());
            for (String name : st.names()) {
                Tensor actual = bin.tensor(name);
                assertEquals(DType.F16, actual.dtype(), name);
                assertEquals(st.tensor(name).shape(), actual.shape(), name);
                assertRoundedToF16(name, st.tensor(name), actual);
            }
            assertRoundedToF16(TIED.get(1), st.tensor(SHARED), bin.tensor(TIED.get(1)));
            assertSharesStorage(bin, TIED);
        }
    }

    private static void assertRoundedToF16(String name, Tensor f32, Tensor f16) {
        float[] values = f32.toFloatArray();
        MemorySegment half = f16.memory();
        for (int i = 0; i < values.length; i++) {
            short expected = Float.floatToFloat16(values[i]);
            short actual = half.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
            if (expected != actual) {
                throw new AssertionError(name + "[" + i + "]: f32 " + values[i] + " rounds to f16 bits 0x"
                        + Integer.toHexString(expected & 0xFFFF) + " but the file holds 0x"
                        + Integer.toHexString(actual & 0xFFFF));
            }
        }
    }

    private static void assertSharesStorage(Checkpoint checkpoint, List<String> names) {
        Tensor first = checkpoint.tensor(names.get(0));
        for (String name : names) {
            assertTrue(sameAddress(first, checkpoint.tensor(name)), name + " should share " + names.get(0)
                    + "'s storage");
        }
    }

    private static boolean sameAddress(Tensor a, Tensor b) {
        return a.memory().address() == b.memory().address();
    }

    @Test
    void viewsWithOffsetAndStridedCopies() {
        // One storage of 8 floats, seen as: a row-major [2, 3] view at offset 2, its transpose (strides 1, 3),
        // and a scalar; the view must share the storage, the transpose is materialised.
        byte[] pickle = new Pickle().proto().orderedDict().mark()
                .string("view").tensor("FloatStorage", "s", 8, 2, new long[] {2, 3}, new long[] {3, 1})
                .string("transposed").tensor("FloatStorage", "s", 8, 2, new long[] {3, 2}, new long[] {1, 3})
                .string("scalar").tensor("FloatStorage", "s", 8, 7, new long[] {}, new long[] {})
                .op('u').op('.').bytes();
        Path file = write("strided.bin", TestFiles.torchZip(pickle, Map.of("s", floats(0, 1, 2, 3, 4, 5, 6, 7))));
        try (var bin = PytorchCheckpoint.open(file)) {
            assertEquals(List.of("view", "transposed", "scalar"), List.copyOf(bin.names()));
            assertEquals(new Shape(2, 3), bin.tensor("view").shape());
            assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, bin.tensor("view").toFloatArray());
            assertArrayEquals(new float[] {2, 5, 3, 6, 4, 7}, bin.tensor("transposed").toFloatArray());
            assertEquals(new Shape(), bin.tensor("scalar").shape());
            assertEquals(7f, bin.tensor("scalar").getFloat(0));
        }
    }

    @Test
    void codeExecutionGlobalsAreRefusedWithoutSideEffect() {
        Path marker = dir.resolve("pwned");
        byte[] osSystem = new Pickle().proto().global("os", "system").string("touch " + marker).op(0x85).op('R')
                .op('.').bytes();
        Path file = write("os.bin", TestFiles.torchZip(osSystem, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "os.bin", "archive/data.pkl byte 2",
                "GLOBAL 'os system' is not allowed");
        assertFalse(Files.exists(marker));
        byte[] eval = new Pickle().proto().global("builtins", "eval").string("1").op(0x85).op('R').op('.').bytes();
        Path evalFile = write("eval.bin", TestFiles.torchZip(eval, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(evalFile), "GLOBAL 'builtins eval' is not allowed");
        byte[] nested = new Pickle().proto().orderedDict().mark().string("w")
                .global("torch", "load").op(')').op('R').op('u').op('.').bytes();
        Path nestedFile = write("nested.bin", TestFiles.torchZip(nested, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(nestedFile), "GLOBAL 'torch load' is not allowed");
    }

    @Test
    void reduceOfAnythingButTheTwoAllowedCallablesIsRefused() {
        byte[] storageCall = new Pickle().proto().global("torch", "FloatStorage").op(')').op('R').op('.').bytes();
        Path file = write("reduce.bin", TestFiles.torchZip(storageCall, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "REDUCE of 'torch.FloatStorage' is not allowed");
        byte[] stringCall = new Pickle().proto().string("system").op(')').op('R').op('.').bytes();
        Path file2 = write("reduce2.bin", TestFiles.torchZip(stringCall, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file2), "REDUCE of a str is not allowed");
    }

    @Test
    void unsupportedOpcodesAreRefused() {
        byte[] stackGlobal = new Pickle().proto().string("os").string("system").op(0x93).op('.').bytes();
        Path file = write("stack.bin", TestFiles.torchZip(stackGlobal, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "opcode 0x93");
        byte[] inst = new Pickle().proto().op('i').op('.').bytes();
        Path file2 = write("inst.bin", TestFiles.torchZip(inst, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file2), "opcode 0x69");
    }

    @Test
    void pickleThatIsNotADictOfTensors() {
        byte[] list = new Pickle().proto().op(']').op('.').bytes();
        Path file = write("list.bin", TestFiles.torchZip(list, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "list.bin", "not a dict of tensors");
        byte[] ints = new Pickle().proto().op('}').string("step").integer(5).op('s').op('.').bytes();
        Path file2 = write("ints.bin", TestFiles.torchZip(ints, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file2), "tensor 'step'", "not a tensor");
        byte[] twoObjects = new Pickle().proto().op('}').op('}').op('.').bytes();
        Path file3 = write("two.bin", TestFiles.torchZip(twoObjects, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file3), "STOP with 2 objects");
    }

    @Test
    void storageOffsetsAndSizesOutOfRange() {
        byte[] pastEnd = singleTensor(6, 3, new long[] {2, 2}, new long[] {2, 1});
        Path file = write("past.bin", TestFiles.torchZip(pastEnd, Map.of("0", new byte[24])));
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "past.bin", "tensor 'w'",
                "reaches past the end of its storage", "storage_offset 3", "size [2, 2]");
        byte[] hugeStride = singleTensor(6, 0, new long[] {2, 2}, new long[] {Integer.MAX_VALUE, 1});
        Path file2 = write("stride.bin", TestFiles.torchZip(hugeStride, Map.of("0", new byte[24])));
        assertCheckpointError(() -> PytorchCheckpoint.open(file2), "tensor 'w'", "reaches past the end");
        byte[] expanded = singleTensor(1, 0, new long[] {Integer.MAX_VALUE}, new long[] {0});
        Path expandedFile = write("expand.bin", TestFiles.torchZip(expanded, Map.of("0", new byte[4])));
        assertCheckpointError(() -> PytorchCheckpoint.open(expandedFile), "tensor 'w'", "strided view of more");
        byte[] wrongNumel = singleTensor(100, 0, new long[] {2}, new long[] {1});
        Path file3 = write("numel.bin", TestFiles.torchZip(wrongNumel, Map.of("0", new byte[24])));
        assertCheckpointError(() -> PytorchCheckpoint.open(file3), "tensor 'w'", "'archive/data/0' holds 24 bytes",
                "100 F32");
        byte[] missing = singleTensor(6, 0, new long[] {6}, new long[] {1});
        Path file4 = write("missing.bin", TestFiles.torchZip(missing, Map.of()));
        assertCheckpointError(() -> PytorchCheckpoint.open(file4), "tensor 'w'", "no entry 'archive/data/0'");
    }

    private static byte[] singleTensor(long numel, long offset, long[] size, long[] stride) {
        return new Pickle().proto().orderedDict().mark().string("w")
                .tensor("FloatStorage", "0", numel, offset, size, stride).op('u').op('.').bytes();
    }

    @Test
    void truncatedAndCorruptZips() {
        byte[] valid = smallArchive();
        for (int length : new int[] {0, 10, 21, valid.length / 2, valid.length - 23, valid.length - 1}) {
            Path file = write("cut" + length + ".bin", Arrays.copyOf(valid, length));
            assertCheckpointError(() -> PytorchCheckpoint.open(file), "cut" + length + ".bin");
        }
        byte[] badDirectory = valid.clone();
        int directory = lastIndexOf(badDirectory, new byte[] {0x50, 0x4b, 0x01, 0x02});
        badDirectory[directory + 1] = 0;
        Path file = write("baddir.bin", badDirectory);
        assertCheckpointError(() -> PytorchCheckpoint.open(file), "central directory entry");
        byte[] badLocal = valid.clone();
        badLocal[0] = 0;
        Path file2 = write("badlocal.bin", badLocal);
        assertCheckpointError(() -> PytorchCheckpoint.open(file2), "zip local header");
        Path notZip = write("text.bin", "hello, not a zip".getBytes(StandardCharsets.US_ASCII));
        assertCheckpointError(() -> PytorchCheckpoint.open(notZip), "no zip end-of-central-directory record");
    }

    @Test
    void compressedEntriesAndOddLayoutsAreRefused() throws IOException {
        Path compressed = dir.resolve("deflated.bin");
        try (var zip = new ZipOutputStream(Files.newOutputStream(compressed))) {
            zip.putNextEntry(new ZipEntry("archive/data.pkl"));
            zip.write(new Pickle().proto().op('}').op('.').bytes());
            zip.closeEntry();
        }
        CheckpointException deflated = assertCheckpointError(() -> PytorchCheckpoint.open(compressed),
                "zip entry 'archive/data.pkl' is compressed (method 8)");
        assertFalse(deflated.getMessage().contains("tensor"), deflated.getMessage());
        byte[] sizesDisagree = smallArchive();
        int directory = lastIndexOf(sizesDisagree, new byte[] {0x50, 0x4b, 0x01, 0x02});
        sizesDisagree[directory + 20]++; // the compressed size
        Path corrupt = write("sizes.bin", sizesDisagree);
        assertCheckpointError(() -> PytorchCheckpoint.open(corrupt), "is stored (method 0) but its sizes disagree",
                "corrupt zip");
        Map<String, byte[]> noFolder = new LinkedHashMap<>();
        noFolder.put("data.pkl", new Pickle().proto().op('}').op('.').bytes());
        Path flat = write("flat.bin", TestFiles.storedZip(noFolder));
        assertCheckpointError(() -> PytorchCheckpoint.open(flat), "not inside a folder");
        Map<String, byte[]> noPickle = new LinkedHashMap<>();
        noPickle.put("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        Path missing = write("nopkl.bin", TestFiles.storedZip(noPickle));
        assertCheckpointError(() -> PytorchCheckpoint.open(missing), "no zip entry 'archive/data.pkl'");
        Map<String, byte[]> bigEndian = new LinkedHashMap<>();
        bigEndian.put("archive/data.pkl", new Pickle().proto().op('}').op('.').bytes());
        bigEndian.put("archive/byteorder", "big".getBytes(StandardCharsets.US_ASCII));
        Path big = write("big.bin", TestFiles.storedZip(bigEndian));
        assertCheckpointError(() -> PytorchCheckpoint.open(big), "byteorder record is 'big'");
    }

    @Test
    void emptyStateDictAndLittleEndianRecordAreAccepted() {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("model/data.pkl", new Pickle().proto().op('}').op('.').bytes());
        entries.put("model/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        try (var bin = PytorchCheckpoint.open(write("empty.bin", TestFiles.storedZip(entries)))) {
            assertEquals(Set.of(), bin.names());
        }
    }

    @Test
    void tensorsAreUnusableAfterClose() {
        var bin = PytorchCheckpoint.open(write("small.bin", smallArchive()));
        Tensor a = bin.tensor("a");
        bin.close();
        assertThrows(IllegalStateException.class, () -> a.getFloat(0));
    }

    private byte[] smallArchive() {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("a", "0");
        keys.put("b", "1");
        keys.put("tied", "0");
        byte[] pickle = TestFiles.stateDict(keys, Map.of("a", new long[] {2, 2}, "b", new long[] {3},
                "tied", new long[] {2, 2}));
        Map<String, byte[]> storages = new LinkedHashMap<>();
        storages.put("0", floats(1, 2, 3, 4));
        storages.put("1", floats(5, 6, 7));
        return TestFiles.torchZip(pickle, storages);
    }

    static byte[] tinyPickle() throws IOException {
        try (ZipFile zip = new ZipFile(TestFiles.golden("tiny-bin/model/pytorch_model.bin").toFile())) {
            return zip.getInputStream(zip.getEntry("pytorch_model/data.pkl")).readAllBytes();
        }
    }

    private static int lastIndexOf(byte[] bytes, byte[] pattern) {
        for (int i = bytes.length - pattern.length; i >= 0; i--) {
            if (Arrays.equals(bytes, i, i + pattern.length, pattern, 0, pattern.length)) {
                return i;
            }
        }
        throw new AssertionError("pattern not found");
    }

    private Path write(String name, byte[] bytes) {
        return TestFiles.write(dir.resolve(name), bytes);
    }
}
