package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.util.Random;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bf16 mode's cross-attention ({@code attentionTransposedKeys} on keys and values packed in bf16 by
 * {@link PackedCrossAttention}), in the decoder's call pattern: {@code transposeKeys} and {@code headMajorValues}
 * once per image, then several steps of queries. Each result is checked against the F32 reference over the same
 * keys and values rounded to bf16, within {@link #PACKED} (a single key is the F32 value itself, as the F32 path
 * copies it). Writing new keys and values into the same tensors must
 * replace the packed copies, and the F32 tensors must stay as written (an F32 backend reading them matches the
 * reference to F32 precision).
 */
class CpuBf16CrossAttentionTest {
    private static final float SCALE = 0.125f;
    /**
     * Queries up to 16 in magnitude over keys and values in [-1, 1): scores up to ~±50 after the scale, attention as
     * peaked as a trained model's, where the queries' precision shows.
     */
    private static final float QUERY_RANGE = 16;
    /**
     * F32 attention over the bf16-rounded keys and values: each product is exact in F32 and only the order of the
     * sums differs from the reference's. Measured: at most 2.1e-6 (outputs up to ~0.6). The oneDNN version before
     * it, with queries as two bf16 parts and bf16 probabilities, was 2.3e-3 off.
     */
    private static final Tolerance PACKED = new Tolerance(1e-5, 0);

    private final Arena arena = Arena.ofConfined();
    private final CpuBackend bf16 = new CpuBackend(0, DType.BF16);
    private final CpuBackend f32 = new CpuBackend(0, DType.F32);
    private final ReferenceBackend reference = new ReferenceBackend();
    private final Random random = new Random(61);

    @AfterEach
    void close() {
        bf16.close();
        f32.close();
        reference.close();
        arena.close();
    }

    @ParameterizedTest(name = "{0} rows over {1} images, {2} of {3} tokens, {4} channels in {5} heads")
    @CsvSource({"1, 1, 20, 64, 64, 4", "3, 1, 17, 64, 64, 4", "6, 2, 13, 64, 64, 4", "3, 1, 1, 8, 64, 4",
            "3, 1, 577, 600, 768, 12", "3, 1, 590, 600, 1024, 16", "6, 2, 590, 590, 128, 2", "3, 1, 77, 80, 120, 3",
            "2, 1, 31, 40, 36, 1", "7, 1, 70, 80, 45, 3", "4, 2, 130, 130, 160, 1"})
    void matchesTheReferenceOverBf16KeysAndValues(int rows, int images, int tokens, int capacity, int channels,
            int heads) {
        CrossKeysValues kv = new CrossKeysValues(images, capacity, channels, heads);
        for (int write = 0; write < 2; write++) {
            kv.write(tokens);
            for (int step = 0; step < 3; step++) {
                assertStep("write " + write + ", step " + step, kv, rows);
            }
        }
    }

    /** A request with fewer beams after one with more reuses the scratch sized for more rows. */
    @Test
    void rowCountsChangeBetweenRequests() {
        CrossKeysValues kv = new CrossKeysValues(2, 64, 64, 4);
        int[] rowsByRequest = {6, 2, 4, 6};
        for (int request = 0; request < rowsByRequest.length; request++) {
            kv.write(13 + request);
            assertStep("request " + request + ", " + rowsByRequest[request] + " rows", kv, rowsByRequest[request]);
        }
    }

    /** Cross-attention keys and values of {@code images} images in the layouts the decoder keeps. */
    private final class CrossKeysValues {
        final int heads;
        final Tensor keysT;
        final Tensor valuesHM;
        int tokens;
        Tensor keys;
        Tensor values;

        CrossKeysValues(int images, int capacity, int channels, int heads) {
            this.heads = heads;
            keysT = Tensor.allocateHost(DType.F32, Shape.of(images, channels, capacity), arena);
            valuesHM = Tensor.allocateHost(DType.F32, Shape.of(images, heads, capacity, channels / heads), arena);
        }

        /** New random keys and values of {@code newTokens} tokens, written as the decoder writes them. */
        void write(int newTokens) {
            Shape tokenRows = Shape.of(keysT.shape().dim(0), newTokens, keysT.shape().dim(1));
            tokens = newTokens;
            keys = random(tokenRows);
            values = random(tokenRows);
            bf16.transposeKeys(keysT, keys);
            bf16.headMajorValues(valuesHM, values);
        }
    }

    /**
     * One step of {@code rows} query rows: the bf16 mode within {@link #PACKED} of the reference over the bf16-rounded
     * keys and values, and an F32 backend on the same tensors within the F32 kernel tolerance of the reference.
     */
    private void assertStep(String name, CrossKeysValues kv, int rows) {
        int channels = kv.keysT.shape().dim(1);
        Tensor q = random(Shape.of(rows, 1, channels));
        for (long i = 0; i < q.elementCount(); i++) {
            q.setFloat(i, q.getFloat(i) * QUERY_RANGE);
        }
        Tensor expected = Tensor.allocateHost(DType.F32, Shape.of(rows, 1, channels), arena);
        Tensor actual = Tensor.allocateHost(DType.F32, Shape.of(rows, 1, channels), arena);
        boolean packed = kv.tokens > 1;
        reference.attention(expected, q, packed ? roundedToBf16(kv.keys) : kv.keys,
                packed ? roundedToBf16(kv.values) : kv.values, kv.tokens, kv.heads, SCALE, AttentionMask.none());
        bf16.attentionTransposedKeys(actual, q, kv.keysT, kv.valuesHM, kv.tokens, kv.heads, SCALE);
        (packed ? PACKED : Tolerance.KERNEL_F32).assertClose(name + ": bf16 mode against the reference", expected,
                actual);

        reference.attention(expected, q, kv.keys, kv.values, kv.tokens, kv.heads, SCALE, AttentionMask.none());
        f32.attentionTransposedKeys(actual, q, kv.keysT, kv.valuesHM, kv.tokens, kv.heads, SCALE);
        Tolerance.KERNEL_F32.assertClose(name + ": the F32 tensors as written", expected, actual);
    }

    /** Uniform in [-1, 1). */
    private Tensor random(Shape shape) {
        Tensor tensor = Tensor.allocateHost(DType.F32, shape, arena);
        for (long i = 0; i < tensor.elementCount(); i++) {
            tensor.setFloat(i, random.nextFloat() * 2 - 1);
        }
        return tensor;
    }

    /** {@code x} rounded to bf16 and back to F32. */
    private Tensor roundedToBf16(Tensor x) {
        Tensor rounded = Tensor.allocateHost(DType.BF16, x.shape(), arena);
        Tensor back = Tensor.allocateHost(DType.F32, x.shape(), arena);
        bf16.copy(rounded, x);
        bf16.copy(back, rounded);
        return back;
    }
}
