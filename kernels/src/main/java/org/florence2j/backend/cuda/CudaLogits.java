package org.florence2j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.florence2j.backend.OpChecks;
import org.florence2j.bindings.CudaDriver;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * {@link CudaBackend#logSoftmaxTopK}: the {@code log_softmax_top_k} kernel of {@code native/cuda/logits.cu}, one
 * block per row, so that a decoding step downloads {@code k} candidates per row instead of
 * {@code [rows, vocabulary]} logits.
 *
 * <p>The kernel holds the row's ban list as a bitmap in dynamic shared memory, which bounds the vocabulary at
 * {@value #MAX_VOCABULARY} tokens (a 40 KiB bitmap beside the kernel's 4 KiB of shared arrays, within the 48 KiB a
 * block gets without opting in). Host ban lists and offsets are staged in the backend's workspace; a device ban
 * list is downloaded once to check its ids, as {@code embedding} does with device ids. The kernel's argument block
 * is allocated once and rewritten per launch ({@code cuLaunchKernel} copies it).
 */
final class CudaLogits {
    /** The largest vocabulary the kernel's shared-memory ban bitmap covers. */
    static final int MAX_VOCABULARY = 40 * 1024 * Byte.SIZE;

    /** Threads per row; a multiple of 32, at most 1024 ({@code logits.cu}). */
    private static final int THREADS = 256;
    private static final int ARGUMENTS = 11;

    private final CudaModules modules;
    private final CudaMemory memory;
    private final MemorySegment stream;
    private final MemorySegment values; // [ARGUMENTS] 8-byte slots holding the kernel's arguments
    private final MemorySegment params; // [ARGUMENTS] pointers to the slots: cuLaunchKernel's kernelParams

    /**
     * @param owner the arena the argument block lives in (the backend's)
     */
    CudaLogits(CudaModules modules, CudaMemory memory, MemorySegment stream, Arena owner) {
        this.modules = modules;
        this.memory = memory;
        this.stream = stream;
        this.values = owner.allocate(ValueLayout.JAVA_LONG, ARGUMENTS);
        this.params = owner.allocate(ValueLayout.ADDRESS, ARGUMENTS);
        for (int i = 0; i < ARGUMENTS; i++) {
            params.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice((long) i * Long.BYTES, Long.BYTES));
        }
    }

    /**
     * Queues the op on the backend's stream, on arguments {@link OpChecks#logSoftmaxTopK} accepted.
     *
     * @throws IllegalArgumentException if the vocabulary exceeds {@link #MAX_VOCABULARY} or a banned id is outside it
     */
    synchronized void run(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {
        int rows = logits.shape().dim(0);
        int vocabulary = logits.shape().dim(1);
        if (vocabulary > MAX_VOCABULARY) {
            throw new IllegalArgumentException("logSoftmaxTopK: the CUDA kernel bans tokens through a shared-memory "
                    + "bitmap of at most " + MAX_VOCABULARY + " tokens; logits " + OpChecks.describe(logits));
        }
        boolean hostBans = bannedTokens != null && bannedTokens.device().isHost();
        boolean hostOffsets = scoreOffsets != null && scoreOffsets.device().isHost();
        long banBytes = hostBans ? bannedTokens.byteSize() : 0;
        long stagedBytes = banBytes + (hostOffsets ? scoreOffsets.byteSize() : 0);
        MemorySegment staged = stagedBytes > 0 ? memory.workspace(stagedBytes) : MemorySegment.NULL;
        MemorySegment deviceBans = MemorySegment.NULL;
        if (bannedTokens != null) {
            checkBans(bannedTokens, vocabulary);
            deviceBans = bannedTokens.memory();
            if (hostBans) {
                deviceBans = staged.asSlice(0, banBytes);
                memory.upload(deviceBans, bannedTokens.memory());
            }
        }
        MemorySegment deviceOffsets = scoreOffsets == null ? MemorySegment.NULL : scoreOffsets.memory();
        if (hostOffsets) {
            deviceOffsets = staged.asSlice(banBytes);
            memory.upload(deviceOffsets, scoreOffsets.memory());
        }
        setPointer(0, scores.memory());
        setPointer(1, tokens.memory());
        setPointer(2, logProbs.memory());
        setPointer(3, logSumExp.memory());
        setPointer(4, logits.memory());
        setInt(5, vocabulary);
        setInt(6, scores.shape().dim(1));
        setPointer(7, deviceBans);
        setInt(8, bannedTokens == null ? 0 : bannedTokens.shape().dim(1));
        setInt(9, forcedToken);
        setPointer(10, deviceOffsets);
        int bitmapBytes = (vocabulary + Integer.SIZE - 1) / Integer.SIZE * Integer.BYTES;
        CudaDriver.launchKernel(modules.function("logits", "log_softmax_top_k"), rows, 1, THREADS, bitmapBytes,
                stream, params);
    }

    private void checkBans(Tensor bannedTokens, int vocabulary) {
        if (bannedTokens.device().isHost()) {
            OpChecks.bannedTokens(bannedTokens, vocabulary);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor host = Tensor.allocateHost(DType.I32, bannedTokens.shape(), arena);
            memory.download(host.memory(), bannedTokens.memory());
            OpChecks.bannedTokens(host, vocabulary);
        }
    }

    private void setPointer(int index, MemorySegment pointer) {
        values.setAtIndex(ValueLayout.JAVA_LONG, index, pointer.address());
    }

    private void setInt(int index, int value) {
        values.set(ValueLayout.JAVA_INT, (long) index * Long.BYTES, value);
    }
}
