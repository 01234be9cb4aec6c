package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.backend.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;

/** The text scratch block: pieces one after another, and clear errors when it is sized wrong. */
class ScratchBlockTest {
    @Test
    void piecesFollowEachOtherWithoutOverlap() {
        try (Backend backend = new ReferenceBackend(); Arena arena = Arena.ofConfined()) {
            ScratchBlock block = ScratchBlock.allocate(backend, arena, 10);
            Scratch first = block.take(4);
            Scratch second = block.take(6);
            long base = block.memory().memory().address();
            assertEquals(base, first.view(4).memory().address());
            assertEquals(base + 4 * Float.BYTES, second.view(6).memory().address());
        }
    }

    @Test
    void takingMoreThanIsLeftNamesBothSizes() {
        try (Backend backend = new ReferenceBackend(); Arena arena = Arena.ofConfined()) {
            ScratchBlock block = ScratchBlock.allocate(backend, arena, 10);
            block.take(8);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> block.take(3));
            assertTrue(e.getMessage().contains("2 left, 3 asked"), e.getMessage());
        }
    }

    @Test
    void aBlockBeyondOneTensorIsRefused() {
        try (Backend backend = new ReferenceBackend(); Arena arena = Arena.ofConfined()) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> ScratchBlock.allocate(backend, arena, 1L << 31));
            assertTrue(e.getMessage().contains("2147483648"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ScratchBlock.allocate(backend, arena, 0));
        }
    }
}
