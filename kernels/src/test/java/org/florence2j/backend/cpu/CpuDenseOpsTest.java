package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** linear, matmul, layerNorm, gelu, softmax and add on {@link CpuBackend} against the reference. */
class CpuDenseOpsTest {
    static Stream<Arguments> linearShapes() {
        // batch, tokens, in, out: odd sizes, a single token, batch 2
        return Stream.of(Arguments.of(1, 1, 7, 5), Arguments.of(2, 13, 33, 17), Arguments.of(1, 577, 64, 96),
                Arguments.of(3, 1, 128, 51));
    }

    @ParameterizedTest
    @MethodSource("linearShapes")
    void linearMatchesReference(int batch, int tokens, int in, int out) {
        try (var t = new CpuVsReference(1)) {
            Tensor x = t.random(1, batch, tokens, in);
            Tensor weight = t.random((float) (1 / Math.sqrt(in)), out, in);
            Tensor bias = t.random(1, out);
            t.check("linear", Tolerance.KERNEL_F32, new int[] {batch, tokens, out},
                    (backend, o) -> backend.linear(o, x, weight, bias));
            t.check("linear without bias", Tolerance.KERNEL_F32, new int[] {batch, tokens, out},
                    (backend, o) -> backend.linear(o, x, weight, null));
            // Residual: added to what out held, with the plain weight and with the packed one.
            Tensor start = t.random(1, batch, tokens, out);
            Tensor packed = t.cpu.uploadLinearWeight(t.random((float) (1 / Math.sqrt(in)), out, in), DType.F32,
                    t.arena);
            for (Tensor w : new Tensor[] {weight, packed}) {
                t.check("linearResidual" + (w == packed ? " packed" : ""), Tolerance.KERNEL_F32,
                        new int[] {batch, tokens, out}, (backend, o) -> {
                            backend.copy(o, start);
                            backend.linearResidual(o, x, w, bias);
                        });
            }
        }
    }

    /**
     * A long-lived backend seeing ever new row counts (prompt lengths) keeps at most the cache's capacity of
     * primitives, and an evicted shape is built again and computes the same.
     */
    @Test
    void primitivesBeyondTheCapacityAreEvictedAndRebuiltOnDemand() {
        try (var t = new CpuVsReference(1)) {
            Tensor weight = t.random(0.3f, 5, 8);
            Tensor first = t.random(1, 1, 1, 8);
            Tensor firstOut = t.zeros(1, 1, 5);
            t.cpu.linear(firstOut, first, weight, null);
            float[] expected = firstOut.toFloatArray();
            int shapes = DnnlPrimitiveCache.CAPACITY + 40;
            for (int rows = 2; rows <= shapes; rows++) {
                t.cpu.linear(t.zeros(1, rows, 5), t.random(1, 1, rows, 8), weight, null);
                assertTrue(t.cpu.cachedPrimitives() <= DnnlPrimitiveCache.CAPACITY, "held after " + rows + " shapes");
            }
            assertEquals(DnnlPrimitiveCache.CAPACITY, t.cpu.cachedPrimitives(), "one primitive per shape, the oldest"
                    + " evicted");
            Tensor again = t.zeros(1, 1, 5);
            t.cpu.linear(again, first, weight, null);
            assertArrayEquals(expected, again.toFloatArray(), "the evicted one-row primitive, rebuilt");
            Tensor three = t.random(1, 1, 3, 8);
            t.check("linear after eviction", Tolerance.KERNEL_F32, new int[] {1, 3, 5},
                    (backend, o) -> backend.linear(o, three, weight, null));
        }
    }

    @Test
    void linearWithBf16AndF16WeightsMatchesReference() {
        try (var t = new CpuVsReference(2)) {
            Tensor x = t.random(1, 2, 5, 48);
            Tensor weight = t.random(0.15f, 24, 48);
            Tensor bias = t.random(1, 24);
            for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
                Tensor converted = t.cpu.upload(weight, dtype, t.arena);
                Tolerance tolerance = dtype == DType.BF16 ? Tolerance.KERNEL_BF16 : Tolerance.KERNEL_F16;
                t.check("linear " + dtype, tolerance, new int[] {2, 5, 24},
                        (backend, o) -> backend.linear(o, x, backend == t.cpu ? converted : weight, bias));
            }
        }
    }

    @Test
    void packedBf16AndF16WeightsMatchReferenceWithoutAnF32Copy() {
        try (var t = new CpuVsReference(4)) {
            Tensor x = t.random(1, 3, 1, 64);
            Tensor weight = t.random(0.125f, 40, 64);
            Tensor bias = t.random(1, 40);
            for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
                Tensor host = t.cpu.upload(weight, dtype, t.arena);
                Tensor packed = t.cpu.uploadLinearWeight(host, DType.F32, t.arena);
                // linear reads the packed copy, converted straight from the 16-bit weight: no F32 copy is made.
                assertSame(host, packed, dtype.toString());
                Tolerance tolerance = dtype == DType.BF16 ? Tolerance.KERNEL_BF16 : Tolerance.KERNEL_F16;
                t.check("packed linear " + dtype, tolerance, new int[] {3, 1, 40},
                        (backend, o) -> backend.linear(o, x, backend == t.cpu ? packed : weight, bias));
            }
        }
    }

    @Test
    void repeatedOpReusesItsPrimitive() {
        try (var t = new CpuVsReference(3)) {
            Tensor x = t.random(1, 1, 4, 8);
            Tensor weight = t.random(1, 6, 8);
            Tensor out = t.zeros(1, 4, 6);
            t.cpu.linear(out, x, weight, null);
            int primitives = t.cpu.cachedPrimitives();
            t.cpu.linear(out, x, weight, null);
            assertEquals(primitives, t.cpu.cachedPrimitives());
        }
    }

    @ParameterizedTest
    @MethodSource("linearShapes")
    void matmulMatchesReference(int batch, int m, int k, int n) {
        try (var t = new CpuVsReference(4)) {
            Tensor a = t.random(1, batch, m, k);
            Tensor b = t.random((float) (1 / Math.sqrt(k)), batch, k, n);
            Tensor shared = t.random((float) (1 / Math.sqrt(k)), 1, k, n);
            t.check("matmul", Tolerance.KERNEL_F32, new int[] {batch, m, n}, (backend, o) -> backend.matmul(o, a, b));
            t.check("matmul broadcast b", Tolerance.KERNEL_F32, new int[] {batch, m, n},
                    (backend, o) -> backend.matmul(o, a, shared));
        }
    }

    static Stream<Arguments> rowShapes() {
        return Stream.of(Arguments.of(1, 1, 1), Arguments.of(1, 5, 3), Arguments.of(2, 7, 129),
                Arguments.of(2, 577, 64));
    }

    @ParameterizedTest
    @MethodSource("rowShapes")
    void layerNormMatchesReference(int batch, int tokens, int channels) {
        try (var t = new CpuVsReference(5)) {
            Tensor x = t.random(3, batch, tokens, channels);
            Tensor weight = t.random(1, channels);
            Tensor bias = t.random(1, channels);
            t.check("layerNorm", Tolerance.KERNEL_F32, new int[] {batch, tokens, channels},
                    (backend, o) -> backend.layerNorm(o, x, weight, bias, 1e-5f));
        }
    }

    @ParameterizedTest
    @MethodSource("rowShapes")
    void elementwiseOpsMatchReference(int batch, int tokens, int channels) {
        try (var t = new CpuVsReference(6)) {
            int[] dims = {batch, tokens, channels};
            Tensor x = t.random(4, dims);
            Tensor table = t.random(2, tokens, channels);
            t.check("gelu", Tolerance.KERNEL_F32, dims, (backend, o) -> backend.gelu(o, x));
            t.check("softmax", Tolerance.KERNEL_F32, dims, (backend, o) -> backend.softmax(o, x));
            t.check("add", Tolerance.KERNEL_F32, dims, (backend, o) -> backend.add(o, x, x));
            t.check("add broadcast", Tolerance.KERNEL_F32, dims, (backend, o) -> backend.add(o, x, table));
        }
    }

    @Test
    void inPlaceOpsMatchReference() {
        try (var t = new CpuVsReference(7)) {
            int[] dims = {2, 9, 31};
            Tensor x = t.random(3, dims);
            Tensor weight = t.random(1, 31);
            Tensor bias = t.random(1, 31);
            t.check("in-place layerNorm, gelu, softmax, add", Tolerance.KERNEL_F32, dims, (backend, o) -> {
                backend.copy(o, x);
                backend.layerNorm(o, o, weight, bias, 1e-5f);
                backend.gelu(o, o);
                backend.add(o, o, bias);
                backend.softmax(o, o);
            });
        }
    }
}
