package org.florence2j.model;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * Every floating-point tensor of {@code base} rounded to F16 or BF16 (round to nearest even), as real Florence-2
 * checkpoints store them: the F32 tiny golden model seen as a 16-bit checkpoint. Rounded copies live in
 * {@code arena}; closing this does not close {@code base}.
 *
 * @param base  the F32 checkpoint
 * @param dtype {@link DType#F16} or {@link DType#BF16}
 * @param arena owner of the rounded copies
 * @param cache rounded tensors by name, made on first use
 */
public record RoundedCheckpoint(Checkpoint base, DType dtype, Arena arena, Map<String, Tensor> cache)
        implements Checkpoint {
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public RoundedCheckpoint(Checkpoint base, DType dtype, Arena arena) {
        this(base, dtype, arena, new ConcurrentHashMap<>());
    }

    public RoundedCheckpoint {
        if (dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("RoundedCheckpoint rounds to F16 or BF16, not " + dtype);
        }
    }

    @Override
    public Set<String> names() {
        return base.names();
    }

    @Override
    public Optional<Tensor> find(String name) {
        return base.find(name).map(t -> cache.computeIfAbsent(name, n -> round(t)));
    }

    private Tensor round(Tensor source) {
        if (!source.dtype().isFloatingPoint()) {
            return source;
        }
        Tensor rounded = Tensor.allocateHost(dtype, source.shape(), arena);
        for (long i = 0; i < source.elementCount(); i++) {
            float value = source.getFloat(i);
            int bits = Float.floatToRawIntBits(value);
            short half = dtype == DType.F16 ? Float.floatToFloat16(value)
                    : (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
            rounded.memory().setAtIndex(I16_LE, i, half);
        }
        return rounded;
    }

    @Override
    public Path fileOf(String name) {
        return base.fileOf(name);
    }

    @Override
    public void close() {
        // The caller closes the base checkpoint and the arena.
    }
}
