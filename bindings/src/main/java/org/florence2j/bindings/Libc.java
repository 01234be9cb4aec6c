package org.florence2j.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The C library's {@code aligned_alloc}, {@code calloc} and {@code free}, its {@code isatty}, and glibc's
 * {@code malloc_trim}. {@code aligned_alloc} gives native memory that is not zeroed first, for buffers a native
 * routine overwrites whole right away (a weight oneDNN packs). {@link Arena#allocate} zeroes what it hands out, which
 * for the ~1 GB of Florence-2-base's packed F32 weights was a pass over them before the pass that writes them.
 * {@code calloc} gives zeroed memory without that pass where it can: glibc maps a large block as fresh pages, which
 * the kernel zeroes only as they are first touched. {@code isatty} tells whether one
 * standard stream is a terminal, which {@link System#console()} cannot: it answers for standard input and output
 * together. Bound from the system's default lookup, which holds libc on Linux.
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ALIGNED_ALLOC = bind("aligned_alloc",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle CALLOC = bind("calloc",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = bind("free", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    private static final MethodHandle ISATTY = bind("isatty",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    // glibc's; C libraries without it (musl) keep no such free memory to give back.
    private static final MethodHandle MALLOC_TRIM = LINKER.defaultLookup().find("malloc_trim")
            .map(symbol -> LINKER.downcallHandle(symbol,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
            .orElse(null);

    private Libc() {}

    /**
     * {@code byteSize} bytes aligned to {@code alignment}, with whatever they held before: the caller must write
     * every byte it reads. Freed when {@code owner} closes.
     *
     * @param alignment a power of two
     * @throws OutOfMemoryError when the C library has no memory to give, as {@link Arena#allocate} throws
     */
    public static MemorySegment allocateUninitialized(long byteSize, long alignment, Arena owner) {
        if (byteSize < 0 || alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("allocateUninitialized: " + byteSize + " bytes aligned to "
                    + alignment);
        }
        // aligned_alloc wants a multiple of the alignment, and at least one byte so that 0 is only a failure.
        long rounded = Math.max(alignment, (byteSize + alignment - 1) / alignment * alignment);
        MemorySegment memory =
                Downcalls.invokeValue(() -> (MemorySegment) ALIGNED_ALLOC.invokeExact(alignment, rounded));
        if (memory.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("aligned_alloc of " + rounded + " bytes failed");
        }
        return owned(memory, byteSize, owner);
    }

    /**
     * {@code byteSize} zeroed bytes aligned to {@code alignment}, as {@link Arena#allocate} gives them, from
     * {@code calloc}: a block large enough for glibc to map it (from 128 KiB, and from at most 32 MiB once blocks that
     * large were freed) costs nothing until its pages are touched, and then only the pages touched. Freed when
     * {@code owner} closes.
     *
     * @param alignment a power of two
     * @throws OutOfMemoryError when the C library has no memory to give, as {@link Arena#allocate} throws
     */
    public static MemorySegment allocateZeroed(long byteSize, long alignment, Arena owner) {
        if (byteSize < 0 || alignment <= 0 || Long.bitCount(alignment) != 1 || byteSize > Long.MAX_VALUE - alignment) {
            throw new IllegalArgumentException("allocateZeroed: " + byteSize + " bytes aligned to " + alignment);
        }
        // calloc aligns to 16 bytes only: room to move the start up to the alignment asked for.
        long padded = byteSize + alignment - 1;
        MemorySegment block = Downcalls.invokeValue(() -> (MemorySegment) CALLOC.invokeExact(1L, padded));
        if (block.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("calloc of " + padded + " bytes failed");
        }
        MemorySegment owned = owned(block, padded, owner);
        long skip = (alignment - owned.address() % alignment) % alignment;
        return owned.asSlice(skip, byteSize);
    }

    /**
     * Whether the file descriptor {@code fd} is open and refers to a terminal: {@code int isatty(int fd)}, which
     * returns 1 for a terminal and 0 for anything else (a file, a pipe, a socket, a descriptor that is not open).
     */
    public static boolean isatty(int fd) {
        return Downcalls.invoke(() -> (int) ISATTY.invokeExact(fd)) == 1;
    }

    /**
     * Hands the C library's free heap memory back to the system: {@code int malloc_trim(size_t pad)} with a pad of 0.
     * glibc keeps memory freed by {@code free} for later allocations, so a process that closed a model would
     * otherwise stay as large as while the model ran. Returns whether the C library has the call.
     */
    public static boolean trimHeap() {
        if (MALLOC_TRIM == null) {
            return false;
        }
        Downcalls.invoke(() -> (int) MALLOC_TRIM.invokeExact(0L));
        return true;
    }

    /**
     * {@code memory}, {@code byteSize} long, freed when {@code owner} closes; freed at once when {@code owner} cannot
     * take it (closed, or confined to another thread), which {@link MemorySegment#reinterpret} only finds out after
     * the C library gave the memory.
     */
    private static MemorySegment owned(MemorySegment memory, long byteSize, Arena owner) {
        try {
            return memory.reinterpret(byteSize, owner, Libc::free);
        } catch (RuntimeException e) {
            free(memory);
            throw e;
        }
    }

    private static void free(MemorySegment memory) {
        Downcalls.invokeValue(() -> {
            FREE.invokeExact(memory);
            return null;
        });
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        return LINKER.defaultLookup().find(name).map(symbol -> LINKER.downcallHandle(symbol, descriptor))
                .orElseThrow(() -> new NativeLibraryException("libc", List.of("the default lookup"),
                        "the C library's " + name + " was not found in the system's default lookup"));
    }
}
