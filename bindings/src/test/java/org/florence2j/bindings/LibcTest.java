package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Libc#allocateUninitialized} and {@link Libc#allocateZeroed}: the size and alignment asked for, usable until
 * its arena closes, and zeroed where asked, a large zeroed block resident only where it is touched;
 * {@link Libc#isatty}: false for what is not a terminal. {@link Libc#trimHeap}: freed heap memory leaves the process.
 */
class LibcTest {
    @TempDir
    Path temp;

    @Test
    void memoryHasTheSizeAndAlignmentAskedForAndHoldsWhatIsWritten() {
        try (Arena arena = Arena.ofConfined()) {
            for (long alignment : new long[] {8, 64, 4096}) {
                MemorySegment memory = Libc.allocateUninitialized(1_000_003, alignment, arena);
                assertEquals(1_000_003, memory.byteSize());
                assertEquals(0, memory.address() % alignment, "aligned to " + alignment);
                for (long i = 0; i + 8 <= memory.byteSize(); i += 4096) {
                    memory.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 31);
                }
                for (long i = 0; i + 8 <= memory.byteSize(); i += 4096) {
                    assertEquals(i * 31, memory.get(ValueLayout.JAVA_LONG_UNALIGNED, i));
                }
                assertEquals(arena.scope(), memory.scope());
            }
            assertEquals(0, Libc.allocateUninitialized(0, 64, arena).byteSize());
        }
    }

    @Test
    void zeroedMemoryHasTheSizeAndAlignmentAskedForAndIsZeroUntilWritten() {
        try (Arena arena = Arena.ofConfined()) {
            for (long alignment : new long[] {8, 64, 4096}) {
                for (long size : new long[] {0, 1, 4_099, 3_000_017}) {
                    // Dirty the C library's heap first, so that a zero read is calloc's work, not fresh memory's.
                    try (Arena dirty = Arena.ofConfined()) {
                        Libc.allocateUninitialized(size + alignment, 16, dirty).fill((byte) 0x5A);
                    }
                    MemorySegment memory = Libc.allocateZeroed(size, alignment, arena);
                    assertEquals(size, memory.byteSize());
                    assertEquals(0, memory.address() % alignment, "aligned to " + alignment);
                    assertEquals(-1, memory.mismatch(MemorySegment.ofArray(new byte[(int) size])),
                            size + " bytes aligned to " + alignment + " are zero");
                    memory.fill((byte) 7);
                    assertEquals(arena.scope(), memory.scope());
                }
            }
        }
    }

    /** A gigabyte asked for and touched at one place in every 64 MiB leaves resident memory almost as it was. */
    @Test
    void aLargeZeroedBlockIsResidentOnlyWhereTouched() throws IOException {
        long bytes = 1L << 30;
        try (Arena arena = Arena.ofConfined()) {
            long before = residentKib();
            MemorySegment memory = Libc.allocateZeroed(bytes, 64, arena);
            for (long i = 0; i < bytes; i += 64L << 20) {
                assertEquals(0, memory.get(ValueLayout.JAVA_LONG_UNALIGNED, i));
                memory.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i);
            }
            long grown = residentKib() - before;
            assertTrue(grown < 256 * 1024, "resident memory grew by " + grown + " KiB for 16 touched pages of a"
                    + " 1 GiB zeroed block");
        }
    }

    /** A zeroed block filled and then freed with its arena leaves resident memory as it was. */
    @Test
    void aZeroedBlockIsFreedWithItsArena() throws IOException {
        long bytes = 256L << 20;
        long filled;
        long before = residentKib();
        try (Arena arena = Arena.ofConfined()) {
            Libc.allocateZeroed(bytes, 64, arena).fill((byte) 1);
            filled = residentKib();
        }
        long freed = filled - residentKib();
        assertTrue(filled - before > 200 * 1024, "filling 256 MiB grew resident memory by " + (filled - before)
                + " KiB");
        assertTrue(freed > 200 * 1024, "closing the arena gave back " + freed + " KiB of 256 MiB filled");
    }

    /**
     * Memory the C library gave to an arena that cannot take it is freed again, not leaked: eight refused blocks of
     * 256 MiB, never touched, would hold 2 GiB of the process's address space.
     */
    @Test
    void memoryForAClosedArenaIsRefusedWithoutALeak() throws IOException {
        Arena closed = Arena.ofConfined();
        closed.close();
        long before = statusKib("VmSize:");
        for (int i = 0; i < 4; i++) {
            assertThrows(IllegalStateException.class, () -> Libc.allocateZeroed(256L << 20, 64, closed));
            assertThrows(IllegalStateException.class, () -> Libc.allocateUninitialized(256L << 20, 64, closed));
        }
        long grown = statusKib("VmSize:") - before;
        assertTrue(grown < 512 * 1024, "address space grew by " + grown + " KiB");
    }

    @Test
    void memoryIsUnusableOnceItsArenaCloses() {
        MemorySegment memory;
        try (Arena arena = Arena.ofConfined()) {
            memory = Libc.allocateUninitialized(256, 64, arena);
            assertTrue(memory.scope().isAlive());
        }
        assertFalse(memory.scope().isAlive());
        assertThrows(IllegalStateException.class, () -> memory.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void badSizesAndAlignmentsAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateUninitialized(-1, 64, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateUninitialized(64, 0, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateUninitialized(64, 48, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateZeroed(-1, 64, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateZeroed(64, 0, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateZeroed(64, 48, arena));
            assertThrows(IllegalArgumentException.class, () -> Libc.allocateZeroed(Long.MAX_VALUE - 10, 64, arena));
        }
    }

    @Test
    void memoryTheCLibraryCannotGiveIsAnOutOfMemoryError() {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(OutOfMemoryError.class, () -> Libc.allocateUninitialized(Long.MAX_VALUE / 2, 64, arena));
            assertThrows(OutOfMemoryError.class, () -> Libc.allocateZeroed(Long.MAX_VALUE / 2, 64, arena));
        }
    }

    @Test
    void aRegularFileIsNotATerminal() throws IOException {
        Path file = Files.writeString(temp.resolve("not-a-terminal.txt"), "text");
        try (FileChannel _ = FileChannel.open(file, StandardOpenOption.READ)) {
            List<Integer> descriptors = descriptorsOf(file);
            assertEquals(1, descriptors.size(), "descriptors open on " + file + ": " + descriptors);
            assertFalse(Libc.isatty(descriptors.getFirst()));
        }
    }

    @Test
    void aDescriptorThatIsNotOpenIsNotATerminal() {
        assertFalse(Libc.isatty(-1));
        assertFalse(Libc.isatty(Integer.MAX_VALUE));
    }

    /**
     * Blocks freed below one still held stay in glibc's heap (its automatic trim only cuts the heap's top) until
     * {@link Libc#trimHeap} hands them back: resident memory falls by most of what they held.
     */
    @Test
    void trimmingHandsFreedHeapMemoryBack() throws IOException {
        int blocks = 2_000;
        long blockBytes = 100_000; // under glibc's 128 KiB threshold for memory mapped on its own
        try (Arena held = Arena.ofConfined()) {
            try (Arena freed = Arena.ofConfined()) {
                for (int i = 0; i < blocks; i++) {
                    Libc.allocateUninitialized(blockBytes, 64, freed).fill((byte) 1);
                }
                Libc.allocateUninitialized(blockBytes, 64, held).fill((byte) 1);
            }
            long kept = residentKib();
            assertTrue(Libc.trimHeap(), "this C library has no malloc_trim");
            long trimmed = residentKib();
            long freedKib = blocks * blockBytes / 1024;
            assertTrue(kept - trimmed > freedKib / 2, "resident " + kept + " KiB before the trim, " + trimmed
                    + " KiB after, of " + freedKib + " KiB freed");
        }
    }

    private static long residentKib() throws IOException {
        return statusKib("VmRSS:");
    }

    /** The kibibytes of {@code field} in Linux's {@code /proc/self/status}. */
    private static long statusKib(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }

    /** The descriptors of this process open on {@code file}, found through Linux's {@code /proc/self/fd}. */
    private static List<Integer> descriptorsOf(Path file) throws IOException {
        Path real = file.toRealPath();
        try (Stream<Path> links = Files.list(Path.of("/proc/self/fd"))) {
            return links.filter(link -> real.equals(target(link)))
                    .map(link -> Integer.parseInt(link.getFileName().toString())).toList();
        }
    }

    private static Path target(Path link) {
        try {
            return Files.readSymbolicLink(link);
        } catch (IOException e) {
            return null; // closed, by another thread, since the folder was listed
        }
    }
}
