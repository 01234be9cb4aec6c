package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Host memory in an arena of its own, grown (never shrunk) on demand: a backend's or a primitive's scratch. */
final class GrowingBuffer implements AutoCloseable {
    private Arena arena = Arena.ofShared();
    private MemorySegment memory = MemorySegment.NULL;

    /**
     * At least {@code bytes}, 64-byte aligned, valid until the next call; the previous memory is freed when it is
     * too small.
     *
     * @throws OutOfMemoryError when the host has no memory left for it; the buffer stays usable
     */
    MemorySegment atLeast(long bytes) {
        if (memory.byteSize() < bytes) {
            arena.close();
            // Forgotten first: when the allocation fails (out of memory), a later, smaller request must not be
            // handed the freed memory.
            memory = MemorySegment.NULL;
            arena = Arena.ofShared();
            memory = arena.allocate(bytes, 64);
        }
        return memory;
    }

    @Override
    public void close() {
        arena.close();
    }
}
