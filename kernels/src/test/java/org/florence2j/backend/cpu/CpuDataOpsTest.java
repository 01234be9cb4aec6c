package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

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
