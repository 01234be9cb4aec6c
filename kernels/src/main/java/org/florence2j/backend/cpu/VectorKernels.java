package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.florence2j.tensor.DType;

/**
 * The element-wise and data-movement loops {@link CpuBackend} runs in Java rather than through a oneDNN primitive:
 * each is a single pass over memory, where a primitive would add a call and a descriptor for no gain.
 */
final class VectorKernels {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    private VectorKernels() {}

    /** Sets {@code count} F32 values starting at element {@code first} to minus infinity. */
    static void fillNegativeInfinity(MemorySegment scores, long first, long count) {
        for (long i = 0; i < count; i++) {
            scores.setAtIndex(F32, first + i, Float.NEGATIVE_INFINITY);
        }
    }

    /**
     * Converts {@code count} floating-point elements between F32, F16 and BF16 ({@code dst} and {@code src} must
     * not overlap unless the dtypes are equal). BF16 rounds to nearest even, as PyTorch's {@code .to(bfloat16)}.
     */
    static void convert(MemorySegment dst, DType dstType, long dstIndex, MemorySegment src, DType srcType,
            long srcIndex, long count) {
        if (dstType == srcType) {
            long bytes = dstType.byteSize();
            MemorySegment.copy(src, srcIndex * bytes, dst, dstIndex * bytes, count * bytes);
            return;
        }
        for (long i = 0; i < count; i++) {
            store(dst, dstType, dstIndex + i, load(src, srcType, srcIndex + i));
        }
    }

    private static float load(MemorySegment segment, DType dtype, long index) {
        return switch (dtype) {
            case F32 -> segment.getAtIndex(F32, index);
            case F16 -> Float.float16ToFloat(segment.getAtIndex(I16, index));
            case BF16 -> Float.intBitsToFloat((segment.getAtIndex(I16, index) & 0xFFFF) << 16);
            default -> throw new IllegalArgumentException("convert: " + dtype + " is not F32, F16 or BF16");
        };
    }

    private static void store(MemorySegment segment, DType dtype, long index, float value) {
        switch (dtype) {
            case F32 -> segment.setAtIndex(F32, index, value);
            case F16 -> segment.setAtIndex(I16, index, Float.floatToFloat16(value));
            case BF16 -> segment.setAtIndex(I16, index, toBfloat16(value));
            default -> throw new IllegalArgumentException("convert: " + dtype + " is not F32, F16 or BF16");
        }
    }

    private static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
