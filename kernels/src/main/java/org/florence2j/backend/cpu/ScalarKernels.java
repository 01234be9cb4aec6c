package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.florence2j.tensor.DType;

/**
 * The element-wise and data-movement loops {@link CpuBackend} runs in plain Java rather than through a oneDNN
 * primitive (a primitive would add a call, several microseconds in a decoder step, and a descriptor for no gain).
 * Free of the Vector API, so that a JVM without {@code jdk.incubator.vector} runs them ({@link VectorApi}).
 */
final class ScalarKernels {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    private ScalarKernels() {}

    /**
     * {@code out[r, i] = a[r, i] + b[i]} over {@code rows × width} F32 elements ({@code out} may be {@code a}): the
     * same IEEE sums as oneDNN's binary add. A scalar loop: a decoder step calls it once, too rarely for C2 to
     * compile Vector API code soon, and until then that code runs as allocating fallbacks (a Vector API version of
     * this loop still allocated ~40 KB a call in a warm caption's process, 0.8 MB a request).
     */
    static void addRows(MemorySegment out, MemorySegment a, MemorySegment b, long rows, long width) {
        for (long row = 0; row < rows; row++) {
            long rowByteOffset = row * width * Float.BYTES;
            for (long i = 0; i < width; i++) {
                out.set(F32, rowByteOffset + i * Float.BYTES,
                        a.get(F32, rowByteOffset + i * Float.BYTES) + b.getAtIndex(F32, i));
            }
        }
    }

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

    /** {@code value} rounded to BF16 bits, to nearest even (a NaN stays a quiet NaN). */
    static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
