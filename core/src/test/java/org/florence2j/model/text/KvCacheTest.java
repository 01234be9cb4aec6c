package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepParameters;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The self-attention cache's beam reorders against a plain model of what they mean: after every step, each row's
 * filled positions hold exactly (bit for bit) the values its beam's history wrote, however the rows were reordered,
 * through either path ({@link KvCache#reorder}, or {@link KvCache#swap} then {@link KvCache#gatherFromPrevious} as a
 * captured step does), across requests of other row counts. Also that a reorder copies only the tail where a row
 * differs from its parent, and that bad arguments are refused.
 */
class KvCacheTest {
    private static final int LAYERS = 2;
    private static final int CHANNELS = 4;
    private static final int HEADS = 2;
    private static final int MAX_ROWS = 6;
    private static final int CAPACITY = 24;
    private static final List<CrossGroup> GROUPS = List.of(new CrossGroup(0, 1, 3));

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"reference", "cpu"})
    void reordersKeepEveryRowsHistoryThroughBothPaths(String backendName) {
        try (Backend backend = backendName.equals("cpu") ? new CpuBackend() : new ReferenceBackend();
                Arena arena = Arena.ofConfined()) {
            KvCache cache = KvCache.allocate(backend, arena, LAYERS, CHANNELS, HEADS, MAX_ROWS, CAPACITY, 1, 3);
            StepParameters step = StepParameters.allocate(backend, arena, MAX_ROWS, 1, CAPACITY, 2, 100);
            Random random = new Random(7);
            for (int rows : new int[] {3, 6, 3, 1}) {
                new Decode(backend, arena, cache, step, rows, random).run(CAPACITY);
            }
        }
    }

    @Test
    void aReorderCopiesOnlyWhereRowsDifferFromTheirParents() {
        try (Backend backend = new ReferenceBackend(); Arena arena = Arena.ofConfined()) {
            KvCache cache = KvCache.allocate(backend, arena, LAYERS, CHANNELS, HEADS, MAX_ROWS, CAPACITY, 1, 3);
            cache.prepare(3, GROUPS);
            for (int p = 0; p < 10; p++) {
                cache.recordWrites(p, 1);
            }
            // Every row made its own writes: every row of the other buffer is unknown, so all is copied.
            assertArrayEquals(new int[] {0, 0, 0}, cache.swap(new int[] {0, 0, 1}, 10).clone());
            cache.recordWrites(10, 1);
            // Rows 0 and 1 now share positions 0-9 (row 0's), row 2 holds row 1's; position 10 is new in each. The
            // other buffer still holds the rows' own first writes: row 0 matches its parent's up to 10.
            assertArrayEquals(new int[] {10, 0, 0}, cache.swap(new int[] {0, 0, 1}, 11).clone());
            cache.recordWrites(11, 1);
            // Row 0 lacks position 11 only, row 1 (before: row 0's 0-9) lacks 10 and 11, row 2 (before: row 1's old
            // history) all.
            assertArrayEquals(new int[] {11, 10, 0}, cache.swap(new int[] {0, 0, 1}, 12).clone());
            cache.recordWrites(12, 1);
            assertArrayEquals(new int[] {12, 11, 10}, cache.swap(new int[] {0, 0, 1}, 13).clone());
        }
    }

    @Test
    void badReordersAndWritesAreRefused() {
        try (Backend backend = new ReferenceBackend(); Arena arena = Arena.ofConfined()) {
            KvCache cache = KvCache.allocate(backend, arena, LAYERS, CHANNELS, HEADS, MAX_ROWS, CAPACITY, 1, 3);
            cache.prepare(3, GROUPS);
            assertThrows(IllegalArgumentException.class, () -> cache.swap(new int[] {0, 3, 1}, 2));
            assertThrows(IllegalArgumentException.class, () -> cache.swap(new int[] {0, 1}, 2));
            assertThrows(IllegalArgumentException.class, () -> cache.swap(new int[] {0, 0, 1}, CAPACITY + 1));
            assertThrows(IllegalArgumentException.class, () -> cache.recordWrites(CAPACITY, 1));
            assertThrows(IllegalArgumentException.class, () -> cache.recordWrites(-1, 1));
        }
    }

    /** One request of {@code rows} rows decoded to {@code positions} positions, checked after every step. */
    private static final class Decode {
        private final Backend backend;
        private final Arena arena;
        private final KvCache cache;
        private final StepParameters step;
        private final int rows;
        private final Random random;
        private final float[][][][] expected; // [layer][K, V][row][capacity · channels]
        private long copiedPositions;
        private long filledPositions;

        Decode(Backend backend, Arena arena, KvCache cache, StepParameters step, int rows, Random random) {
            this.backend = backend;
            this.arena = arena;
            this.cache = cache;
            this.step = step;
            this.rows = rows;
            this.random = random;
            this.expected = new float[LAYERS][2][rows][CAPACITY * CHANNELS];
        }

        void run(int positions) {
            cache.prepare(rows, GROUPS);
            step.prepare(rows, 1);
            for (int p = 0; p < positions; p++) {
                int[] parents = parents(p);
                step.setPosition(p); // as in Session: the captured copies read the position from the parameters
                boolean identity = IntStream.range(0, rows).allMatch(r -> parents[r] == r);
                assertEquals(!identity && p > 0, cache.moves(parents, p), "moves " + Arrays.toString(parents));
                if (cache.moves(parents, p)) {
                    reorder(parents, p);
                }
                reorderExpected(parents); // by definition, whatever the cache decided
                cache.recordWrites(p, 1);
                for (int layer = 0; layer < LAYERS; layer++) {
                    write(cache.selfKey(layer), expected[layer][0], p);
                    write(cache.selfValue(layer), expected[layer][1], p);
                }
                for (int layer = 0; layer < LAYERS; layer++) {
                    assertHolds(cache.selfKey(layer), expected[layer][0], p + 1, "keys of layer " + layer);
                    assertHolds(cache.selfValue(layer), expected[layer][1], p + 1, "values of layer " + layer);
                }
            }
            if (rows > 1) {
                // This mix shuffles rows often (a third of its reorders), so only a share is saved.
                assertTrue(copiedPositions < filledPositions * 3 / 4, "rows that share their parents' history"
                        + " copy only the rest: " + copiedPositions + " of " + filledPositions + " positions copied");
            }
        }

        /**
         * Mostly what beam search does (most beams keep or share a parent), sometimes a shuffle, the identity, or
         * every row from one parent.
         */
        private int[] parents(int position) {
            int[] parents = new int[rows];
            int kind = random.nextInt(6);
            for (int r = 0; r < rows; r++) {
                parents[r] = switch (kind) {
                    case 0 -> r;
                    case 1 -> random.nextInt(rows);
                    case 2 -> position % rows;
                    default -> random.nextInt(4) == 0 ? random.nextInt(rows) : Math.max(0, r - 1);
                };
            }
            return parents;
        }

        /** Reorders the cache by one path or the other; counts the positions the second path copies. */
        private void reorder(int[] parents, int filled) {
            if (random.nextBoolean()) {
                cache.reorder(backend, parents, filled);
            } else {
                int[] first = cache.swap(parents, filled);
                step.setParents(parents, first);
                cache.gatherFromPrevious(backend, step);
                for (int r = 0; r < rows; r++) {
                    copiedPositions += filled - first[r];
                }
                filledPositions += (long) rows * filled;
            }
        }

        /** The expected histories, each row taking its parent's. */
        private void reorderExpected(int[] parents) {
            for (float[][][] layer : expected) {
                for (int kv = 0; kv < 2; kv++) {
                    float[][] before = layer[kv].clone();
                    for (int r = 0; r < rows; r++) {
                        layer[kv][r] = Arrays.copyOf(before[parents[r]], before[parents[r]].length);
                    }
                }
            }
        }

        /** Writes a random row at {@code position} of every row of {@code live}, and into the expected values. */
        private void write(Tensor live, float[][] expectedRows, int position) {
            Tensor rowsAt = Tensor.allocateHost(DType.F32, Shape.of(rows, 1, CHANNELS), arena);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < CHANNELS; c++) {
                    float value = random.nextFloat();
                    rowsAt.setFloat((long) r * CHANNELS + c, value);
                    expectedRows[r][position * CHANNELS + c] = value;
                }
            }
            Tensor onDevice = backend.upload(rowsAt, DType.F32, arena);
            backend.writeRows(live, onDevice, position);
        }

        private void assertHolds(Tensor live, float[][] expectedRows, int filled, String what) {
            Tensor host = Tensor.allocateHost(DType.F32, live.shape(), arena);
            backend.download(live, host);
            float[] actual = host.toFloatArray();
            for (int r = 0; r < rows; r++) {
                float[] row = Arrays.copyOfRange(actual, r * CAPACITY * CHANNELS, (r * CAPACITY + filled) * CHANNELS);
                assertArrayEquals(Arrays.copyOf(expectedRows[r], filled * CHANNELS), row,
                        what + ", row " + r + " after " + filled + " positions");
            }
        }
    }
}
