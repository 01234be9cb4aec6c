package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.florence2j.bindings.CudaRuntime;

/**
 * Device memory of one {@link CudaBackend}: allocations tied to their owner's arena, and one scratch workspace
 * for ops that need temporary device memory (attention scores, im2col columns, 16-bit copies of an operand).
 *
 * <p>The workspace only grows: after the first run of a model at a given size it never allocates again, which
 * keeps {@code cudaMalloc} (and its implicit device synchronisation) out of the decode loop. Ops use it only while
 * they run, on the backend's single stream, so one buffer serves them all.
 */
final class CudaMemory implements AutoCloseable {
    private final MemorySegment stream;
    private Arena workspaceArena;
    private MemorySegment workspace = MemorySegment.NULL;
    private long generation; // times the workspace has been reallocated

    CudaMemory(MemorySegment stream) {
        this.stream = stream;
    }

    /** Zeroed device memory of {@code byteSize} bytes, freed when {@code owner} closes. */
    static MemorySegment allocate(long byteSize, Arena owner) {
        return CudaRuntime.malloc(Math.max(1, byteSize), owner).asSlice(0, byteSize);
    }

    /**
     * Scratch device memory of at least {@code byteSize} bytes, valid until the next call. Growing waits for the
     * stream, since queued kernels may still use the old buffer.
     */
    synchronized MemorySegment workspace(long byteSize) {
        if (workspace.byteSize() < byteSize) {
            CudaRuntime.streamSynchronize(stream);
            // Half again as much as asked, so a slowly growing request (a KV cache filling) reallocates rarely.
            long grown = Math.max(byteSize, workspace.byteSize() + workspace.byteSize() / 2);
            if (workspaceArena != null) {
                workspaceArena.close();
            }
            // Forgotten first, and graphs told it moved: when cudaMalloc fails (out of memory, which callers may
            // recover from), a later, smaller request must not be handed the freed memory.
            workspace = MemorySegment.NULL;
            generation++;
            workspaceArena = Arena.ofShared();
            workspace = allocate(grown, workspaceArena);
        }
        return workspace.asSlice(0, byteSize);
    }

    /**
     * How many times the workspace has moved to a new address: a captured CUDA graph holds the address it saw, so
     * it is stale once this changes.
     */
    synchronized long generation() {
        return generation;
    }

    /** Host to device, then waits: the caller may release the host memory as soon as this returns. */
    void upload(MemorySegment deviceDst, MemorySegment hostSrc) {
        CudaRuntime.memcpyAsync(deviceDst, hostSrc, hostSrc.byteSize(), CudaRuntime.HOST_TO_DEVICE, stream);
        CudaRuntime.streamSynchronize(stream);
    }

    /** Device to host, then waits, so the host memory holds the data when this returns. */
    void download(MemorySegment hostDst, MemorySegment deviceSrc) {
        CudaRuntime.memcpyAsync(hostDst, deviceSrc, hostDst.byteSize(), CudaRuntime.DEVICE_TO_HOST, stream);
        CudaRuntime.streamSynchronize(stream);
    }

    /** Device to device, queued on the stream. */
    void copy(MemorySegment deviceDst, MemorySegment deviceSrc, long byteSize) {
        if (byteSize > 0) {
            CudaRuntime.memcpyAsync(deviceDst, deviceSrc, byteSize, CudaRuntime.DEVICE_TO_DEVICE, stream);
        }
    }

    /** {@code rows} device rows of {@code rowBytes}, {@code srcPitch} bytes apart, to rows {@code dstPitch} apart. */
    void copyRows(MemorySegment deviceDst, long dstPitch, MemorySegment deviceSrc, long srcPitch, long rowBytes,
            long rows) {
        if (rowBytes > 0 && rows > 0) {
            CudaRuntime.memcpy2DAsync(deviceDst, dstPitch, deviceSrc, srcPitch, rowBytes, rows,
                    CudaRuntime.DEVICE_TO_DEVICE, stream);
        }
    }

    /** Frees the workspace; the stream must be idle. */
    @Override
    public synchronized void close() {
        if (workspaceArena != null) {
            workspaceArena.close();
            workspaceArena = null;
            workspace = MemorySegment.NULL;
        }
    }
}
