package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class GrowingBufferTest {
    @Test
    void growsOnlyWhenTooSmallAndFreesWhatItOutgrew() {
        try (GrowingBuffer buffer = new GrowingBuffer()) {
            MemorySegment first = buffer.atLeast(1024);
            assertEquals(1024, first.byteSize());
            assertEquals(0, first.address() % 64);
            assertSame(first, buffer.atLeast(100), "a smaller request takes the memory it has");
            MemorySegment grown = buffer.atLeast(4096);
            assertEquals(4096, grown.byteSize());
            assertFalse(first.scope().isAlive(), "the outgrown memory is freed");
        }
    }

    /** An allocation the host cannot give (64 TiB) leaves no freed memory behind for the next, smaller request. */
    @Test
    void aFailedGrowthLeavesTheBufferUsable() {
        try (GrowingBuffer buffer = new GrowingBuffer()) {
            MemorySegment before = buffer.atLeast(1024);
            assertThrows(OutOfMemoryError.class, () -> buffer.atLeast(1L << 46));
            assertFalse(before.scope().isAlive());
            MemorySegment after = buffer.atLeast(512);
            assertTrue(after.scope().isAlive(), "the next request was handed freed memory");
            after.set(ValueLayout.JAVA_INT, 508, 7);
            assertEquals(7, after.get(ValueLayout.JAVA_INT, 508));
        }
    }

    @Test
    void closingFreesTheMemory() {
        GrowingBuffer buffer = new GrowingBuffer();
        MemorySegment memory = buffer.atLeast(64);
        buffer.close();
        assertFalse(memory.scope().isAlive());
    }
}
