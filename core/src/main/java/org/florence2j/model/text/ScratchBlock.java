package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * One flat F32 backend buffer that the text side's scratch (encoder and decoder workspaces, the KV cache) is cut
 * from, one piece after another. Being one buffer lets a session lend the same memory to its vision tower while no
 * text op runs ({@code Session}): every piece is written by a request before that request reads it, so nothing in
 * it outlives a request.
 */
public final class ScratchBlock {
    private final Tensor memory; // [capacity]
    private long used;

    private ScratchBlock(Tensor memory) {
        this.memory = memory;
    }

    /**
     * Allocates a block of {@code elements} F32 values in {@code arena}; size it with the {@code scratchElements}
     * methods of what will take from it.
     *
     * @throws IllegalArgumentException when {@code elements} is not positive
     * @throws InvalidInputException     when {@code elements} exceeds one tensor's 2³¹ - 1: what a session is sized
     *                                   for (images, beams, new tokens, encoder tokens) asks for too much
     */
    public static ScratchBlock allocate(Backend backend, Arena arena, long elements) {
        if (elements < 1) {
            throw new IllegalArgumentException("text scratch of " + elements + " F32 elements");
        }
        if (elements > Integer.MAX_VALUE) {
            throw new InvalidInputException("this request needs a scratch of " + elements + " F32 values, more than"
                    + " one tensor's " + Integer.MAX_VALUE + ": ask for fewer images, beams or new tokens at once, or"
                    + " a shorter prompt");
        }
        return new ScratchBlock(backend.allocate(DType.F32, new Shape((int) elements), arena));
    }

    /** The whole block, {@code [capacity]} F32, whatever has been taken from it. */
    public Tensor memory() {
        return memory;
    }

    /** The next {@code elements} values of the block. */
    Scratch take(long elements) {
        if (elements > memory.elementCount() - used) {
            throw new IllegalStateException("text scratch block of " + memory.elementCount() + " elements has "
                    + (memory.elementCount() - used) + " left, " + elements + " asked: sized for less");
        }
        Scratch piece = Scratch.of(memory.narrow((int) used, Math.toIntExact(elements)));
        used += elements;
        return piece;
    }
}
