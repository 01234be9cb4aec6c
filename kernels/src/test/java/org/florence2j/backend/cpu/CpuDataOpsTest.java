package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Uploads, conversions, embedding, concatenation and cache row moves against the reference. */
class CpuDataOpsTest {
    @Test
    void uploadKeepsF32AndConvertsHalfTypes() {
        try (var t = new CpuVsReference(31)) {
            Tensor weight = t.random(2, 3, 17);
            assertSame(weight, t.cpu.upload(weight, DType.F32, t.arena));
            for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
                Tensor expected = t.reference.upload(weight, dtype, t.arena);
                Tensor actual = t.cpu.upload(weight, dtype, t.arena);
                assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), "upload " + dtype);
                t.check("download " + dtype, Tolerance.KERNEL_F32, new int[] {3, 17},
                        (backend, o) -> backend.download(actual, o));
            }
        }
    }

    @Test
    void embeddingMatchesReference() {
        try (var t = new CpuVsReference(32)) {
            Tensor table = t.random(1, 50, 9);
            Tensor ids = Tensor.ofInts(Shape.of(2, 3), t.arena, 0, 49, 7, 7, 1, 23);
            t.check("embedding", Tolerance.KERNEL_F32, new int[] {2, 3, 9},
                    (backend, o) -> backend.embedding(o, table, ids));
        }
    }

    /**
     * Mapped tables large enough that their file pages are dropped every few lookups, starting off a page boundary
     * (as a tensor inside a checkpoint does), two of them looked up in turn and then one alone for longer than a
     * drop period: rows at both ends and repeated ids read back exactly every time.
     */
    @Test
    void embeddingFromLargeMappedTablesReadsEveryRow(@TempDir Path folder) throws IOException {
        int channels = 1024;
        int vocabulary = (int) (CpuBackend.UNLOADED_TABLE_BYTES / (channels * Float.BYTES)) + 7;
        long offset = 100 * Float.BYTES;
        long tableBytes = (long) vocabulary * channels * Float.BYTES;
        Path file = folder.resolve("table.bin");
        try (Arena arena = Arena.ofConfined(); var cpu = new CpuBackend();
                FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE)) {
            MemorySegment written = channel.map(FileChannel.MapMode.READ_WRITE, 0, offset + tableBytes, arena);
            for (long i = 0; i < tableBytes / Float.BYTES; i++) {
                written.set(ValueLayout.JAVA_FLOAT_UNALIGNED, offset + i * Float.BYTES, i % 65_521);
            }
            written.force();
            Shape shape = Shape.of(vocabulary, channels);
            Tensor first = Tensor.wrap(DType.F32, shape, Device.cpu(),
                    channel.map(FileChannel.MapMode.READ_ONLY, offset, tableBytes, arena));
            Tensor second = Tensor.wrap(DType.F32, shape, Device.cpu(),
                    channel.map(FileChannel.MapMode.READ_ONLY, offset, tableBytes, arena));
            int[] idValues = {0, vocabulary - 1, 4097, 0, vocabulary - 1};
            Tensor ids = Tensor.ofInts(Shape.of(1, idValues.length), arena, idValues);
            Tensor out = Tensor.allocateHost(DType.F32, Shape.of(1, idValues.length, channels), arena);
            for (int lookup = 0; lookup < 4 + 2 * CpuBackend.LOOKUPS_PER_UNLOAD; lookup++) {
                cpu.embedding(out, lookup < 4 && lookup % 2 == 1 ? second : first, ids);
                float[] actual = out.toFloatArray();
                for (int t = 0; t < idValues.length; t++) {
                    for (int c = 0; c < channels; c++) {
                        float expected = ((long) idValues[t] * channels + c) % 65_521;
                        if (actual[t * channels + c] != expected) {
                            throw new AssertionError("lookup " + lookup + ", id " + idValues[t] + ", channel " + c
                                    + ": " + actual[t * channels + c] + " != " + expected);
                        }
                    }
                }
            }
        }
    }

    @Test
    void concatWriteAndGatherRowsMatchReference() {
        try (var t = new CpuVsReference(33)) {
            Tensor a = t.random(1, 2, 1, 6);
            Tensor b = t.random(1, 2, 5, 6);
            t.check("concatTokens", Tolerance.KERNEL_F32, new int[] {2, 6, 6},
                    (backend, o) -> backend.concatTokens(o, a, b));
            Tensor cache = t.random(1, 3, 8, 6);
            Tensor rows = t.random(1, 3, 2, 6);
            t.check("writeRows", Tolerance.KERNEL_F32, new int[] {3, 8, 6}, (backend, o) -> {
                backend.copy(o, cache);
                backend.writeRows(o, rows, 5);
            });
            t.check("gatherRows", Tolerance.KERNEL_F32, new int[] {3, 8, 6},
                    (backend, o) -> backend.gatherRows(o, cache, new int[] {2, 2, 0}, 5));
            Tensor stale = t.random(1, 3, 8, 6);
            t.check("gatherRows from first rows", Tolerance.KERNEL_F32, new int[] {3, 8, 6}, (backend, o) -> {
                backend.copy(o, stale);
                backend.gatherRows(o, cache, new int[] {2, 2, 0}, new int[] {3, 5, 0}, 5);
            });
        }
    }

    @Test
    void singleThreadBackendMatchesReference() {
        try (var t = new CpuVsReference(34); var oneThread = new CpuBackend(1)) {
            Tensor x = t.random(2, 3, 40, 24);
            Tensor expected = t.zeros(3, 40, 24);
            Tensor actual = t.zeros(3, 40, 24);
            t.reference.gelu(expected, x);
            oneThread.gelu(actual, x);
            Tolerance.KERNEL_F32.assertClose("gelu on one thread", expected, actual);
        }
    }
}
