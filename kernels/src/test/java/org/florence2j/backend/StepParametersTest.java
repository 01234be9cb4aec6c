package org.florence2j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link StepParameters}: the packing of a decode step's integers into fixed views, the checks made when they are set
 * (a captured step cannot make them on the device), and the {@link Backend} overloads that read them, which on a
 * host backend must be exactly the int forms.
 */
class StepParametersTest {
    private static final int VOCABULARY = 50;
    private final Arena arena = Arena.ofConfined();
    private final ReferenceBackend backend = new ReferenceBackend();

    @AfterEach
    void close() {
        arena.close();
        backend.close();
    }

    private StepParameters parameters(int maxRows, int maxTokens, int maxPositions) {
        return StepParameters.allocate(backend, arena, maxRows, maxTokens, maxPositions, 2, VOCABULARY);
    }

    @Test
    void valuesLandInTheirViews() {
        StepParameters step = parameters(3, 2, 10);
        step.prepare(2, 2);
        step.setPosition(4);
        step.setToken(0, 0, 7);
        step.setToken(0, 1, 8);
        step.setToken(1, 0, 49);
        step.setToken(1, 1, 0);
        int[] parents = {1, 1};
        step.setParents(parents);

        assertEquals(Shape.of(1), step.devicePosition().shape());
        assertArrayEquals(new long[] {4}, step.devicePosition().toLongArray());
        assertEquals(Shape.of(1, 2), step.positionIds().shape());
        assertArrayEquals(new long[] {6, 7}, step.positionIds().toLongArray(), "position + 2 + t");
        assertEquals(Shape.of(2, 2), step.tokenIds().shape());
        assertArrayEquals(new long[] {7, 8, 49, 0}, step.tokenIds().toLongArray());
        assertArrayEquals(new long[] {1, 1}, step.parentRows().toLongArray());
        assertSame(parents, step.parents());
        assertEquals(4, step.position());
        assertEquals(AttentionMask.causal(4), step.causalMask());
        assertTrue(step.tokenIds().device().isHost(), "on a host backend the device views are host memory");
        assertEquals(DType.I32, step.tokenIds().dtype());
    }

    @Test
    void viewsKeepTheirAddressesAcrossRequestsOfOneShape() {
        StepParameters step = parameters(4, 1, 10);
        step.prepare(3, 1);
        long tokens = step.tokenIds().memory().address();
        long position = step.devicePosition().memory().address();
        long parents = step.parentRows().memory().address();
        step.prepare(1, 1);
        step.prepare(3, 1);
        assertEquals(tokens, step.tokenIds().memory().address());
        assertEquals(position, step.devicePosition().memory().address());
        assertEquals(parents, step.parentRows().memory().address());
    }

    @Test
    void badValuesAreRefusedWhenSet() {
        StepParameters step = parameters(2, 1, 8);
        step.prepare(2, 1);
        var position = assertThrows(IllegalArgumentException.class, () -> step.setPosition(8));
        assertEquals("decode position 8 with 1 tokens is outside the 8 positions of the step parameters",
                position.getMessage());
        assertThrows(IllegalArgumentException.class, () -> step.setPosition(-1));
        var token = assertThrows(IllegalArgumentException.class, () -> step.setToken(1, 0, VOCABULARY));
        assertEquals("token id 50 at row 1 outside the vocabulary [0, 50)", token.getMessage());
        assertThrows(IllegalArgumentException.class, () -> step.setToken(0, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> step.setToken(2, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> step.setToken(0, 1, 3));
        var parents = assertThrows(IllegalArgumentException.class, () -> step.setParents(new int[] {0, 2}));
        assertEquals("parents [0, 2] must name one of the 2 rows for each row", parents.getMessage());
        assertThrows(IllegalArgumentException.class, () -> step.setParents(new int[] {0}));
        assertThrows(IllegalArgumentException.class, () -> step.prepare(3, 1));
        assertThrows(IllegalArgumentException.class, () -> step.prepare(1, 2));
        assertThrows(IllegalArgumentException.class,
                () -> StepParameters.allocate(backend, arena, 0, 1, 8, 2, VOCABULARY));
    }

    @Test
    void hostOverloadsAreTheIntForms() {
        Random random = new Random(1);
        int rows = 3;
        int capacity = 6;
        int channels = 8;
        StepParameters step = parameters(rows, 1, capacity);
        step.prepare(rows, 1);
        step.setPosition(3);
        step.setParents(new int[] {2, 0, 0});
        Tensor cache = random(random, rows, capacity, channels);
        Tensor src = random(random, rows, 1, channels);
        Tensor q = random(random, rows, 1, channels);

        Tensor written = copy(cache);
        Tensor expectedWritten = copy(cache);
        backend.writeRows(written, src, step);
        backend.writeRows(expectedWritten, src, 3);
        assertArrayEquals(expectedWritten.toFloatArray(), written.toFloatArray(), "writeRows");

        Tensor out = Tensor.allocateHost(DType.F32, Shape.of(rows, 1, channels), arena);
        Tensor expectedOut = Tensor.allocateHost(DType.F32, Shape.of(rows, 1, channels), arena);
        backend.attention(out, q, written, written, step, 2, 0.5f);
        backend.attention(expectedOut, q, written, written, 4, 2, 0.5f, AttentionMask.causal(3));
        assertArrayEquals(expectedOut.toFloatArray(), out.toFloatArray(), "attention");

        Tensor gathered = Tensor.allocateHost(DType.F32, cache.shape(), arena);
        Tensor expectedGathered = Tensor.allocateHost(DType.F32, cache.shape(), arena);
        backend.gatherRows(gathered, cache, step);
        backend.gatherRows(expectedGathered, cache, new int[] {2, 0, 0}, 3);
        assertArrayEquals(expectedGathered.toFloatArray(), gathered.toFloatArray(), "gatherRows");

        // Another source, so that positions before the first rows would change if they were copied.
        Tensor other = random(random, rows, capacity, channels);
        step.setParents(new int[] {2, 0, 0}, new int[] {1, 3, 0});
        backend.gatherRows(gathered, other, step);
        backend.gatherRows(expectedGathered, other, new int[] {2, 0, 0}, new int[] {1, 3, 0}, 3);
        assertArrayEquals(expectedGathered.toFloatArray(), gathered.toFloatArray(), "gatherRows from first rows");
        assertThrows(IllegalArgumentException.class, () -> step.setParents(new int[] {2, 0, 0}, new int[] {1, -1, 0}));
        assertThrows(IllegalArgumentException.class, () -> step.setParents(new int[] {2, 0, 0}, new int[] {1, 0}));
    }

    @Test
    void eagerStepGraphRunsTheOpsEveryTime() {
        int[] runs = new int[1];
        try (StepGraph graph = backend.newStepGraph()) {
            graph.run(0, () -> runs[0]++);
            graph.run(0, () -> runs[0]++);
            graph.reset();
            graph.run(StepGraph.VARIANTS - 1, () -> runs[0]++);
            assertThrows(IllegalArgumentException.class, () -> graph.run(StepGraph.VARIANTS, () -> runs[0]++));
        }
        assertEquals(3, runs[0]);
    }

    private Tensor random(Random random, int... dims) {
        float[] values = new float[Math.toIntExact(Shape.of(dims).elementCount())];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat() * 2 - 1;
        }
        return Tensor.ofFloats(Shape.of(dims), arena, values);
    }

    private Tensor copy(Tensor tensor) {
        return Tensor.ofFloats(tensor.shape(), arena, tensor.toFloatArray());
    }
}
