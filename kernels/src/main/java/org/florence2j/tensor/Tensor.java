package org.florence2j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.florence2j.bindings.Libc;

/**
 * A contiguous, row-major, typed view of memory. It owns nothing: the {@link Arena} that made its segment decides
 * how long the memory lives, and using a tensor after that arena closed throws {@link IllegalStateException}.
 *
 * <p>For host tensors {@link #memory()} is the data itself. For device tensors it is a segment whose address is
 * the device pointer; Java code never dereferences it.
 */
public final class Tensor {
    /**
     * Host memory from this size on is zeroed as it is first touched ({@link Libc#allocateZeroed}), smaller memory at
     * once by its arena. Only requests far beyond the usual reach it (a session of base for 3 beams and 1,024 new
     * tokens takes 269 MB; one for a batch of six or more 768 × 768 images does): zeroing 2.4 GB took 6 s of a
     * request here, but memory zeroed as a request first touches it made base's one-shot requests 5–7 % slower
     * (their first touches fell inside the vision tower's and decoder's parallel ops).
     */
    public static final long LAZY_ZERO_BYTES = 512L << 20;
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final Shape shape;
    private final Device device;
    private final MemorySegment memory;

    private Tensor(DType dtype, Shape shape, Device device, MemorySegment memory) {
        this.dtype = dtype;
        this.shape = shape;
        this.device = device;
        this.memory = memory;
    }

    /**
     * Wraps existing memory.
     *
     * @throws IllegalArgumentException if the segment is not exactly {@code shape × dtype} bytes
     */
    public static Tensor wrap(DType dtype, Shape shape, Device device, MemorySegment memory) {
        long byteSize = shape.elementCount() * dtype.byteSize();
        if (memory.byteSize() != byteSize) {
            throw new IllegalArgumentException("tensor " + dtype + shape + " needs " + byteSize
                    + " bytes but the segment holds " + memory.byteSize());
        }
        return new Tensor(dtype, shape, device, memory);
    }

    /** Allocates zeroed host memory in {@code owner}, aligned for vector loads ({@link #allocateHostMemory}). */
    public static Tensor allocateHost(DType dtype, Shape shape, Arena owner) {
        MemorySegment memory = allocateHostMemory(shape.elementCount() * dtype.byteSize(), owner);
        return new Tensor(dtype, shape, Device.cpu(), memory);
    }

    /**
     * {@code byteSize} zeroed bytes of host memory in {@code owner}, aligned for vector loads. From
     * {@link #LAZY_ZERO_BYTES}
     * on, pages never touched cost no time and no resident memory: a session sized for a thousand beams no longer
     * spends seconds zeroing before its request's first check of its timeout.
     */
    public static MemorySegment allocateHostMemory(long byteSize, Arena owner) {
        return byteSize >= LAZY_ZERO_BYTES ? Libc.allocateZeroed(byteSize, 64, owner) : owner.allocate(byteSize, 64);
    }

    /** A host F32 tensor holding a copy of {@code values}. */
    public static Tensor ofFloats(Shape shape, Arena owner, float... values) {
        if (values.length != shape.elementCount()) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.elementCount()
                    + " values, got " + values.length);
        }
        Tensor tensor = allocateHost(DType.F32, shape, owner);
        MemorySegment.copy(values, 0, tensor.memory, F32_LE, 0, values.length);
        return tensor;
    }

    /** A host I32 tensor holding a copy of {@code values}. */
    public static Tensor ofInts(Shape shape, Arena owner, int... values) {
        if (values.length != shape.elementCount()) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.elementCount()
                    + " values, got " + values.length);
        }
        Tensor tensor = allocateHost(DType.I32, shape, owner);
        MemorySegment.copy(values, 0, tensor.memory, I32_LE, 0, values.length);
        return tensor;
    }

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** The dimensions, outermost first. */
    public Shape shape() {
        return shape;
    }

    /** Where the memory lives. */
    public Device device() {
        return device;
    }

    /** The memory, checked to be alive. */
    public MemorySegment memory() {
        if (!memory.scope().isAlive()) {
            throw new IllegalStateException("tensor " + dtype + shape + " on " + device
                    + " used after its arena was closed");
        }
        return memory;
    }

    /** Number of elements: the product of the shape. */
    public long elementCount() {
        return shape.elementCount();
    }

    /** Bytes of the memory segment. */
    public long byteSize() {
        return memory.byteSize();
    }

    /** The same memory seen with another shape of the same element count. */
    public Tensor reshape(Shape newShape) {
        if (newShape.elementCount() != shape.elementCount()) {
            throw new IllegalArgumentException("reshape " + shape + " -> " + newShape + ": element counts differ");
        }
        return new Tensor(dtype, newShape, device, memory);
    }

    /**
     * Rows {@code [first, first + count)} of the outermost dimension, sharing this tensor's memory. Contiguous
     * because the layout is row-major.
     */
    public Tensor narrow(int first, int count) {
        int outer = shape.dim(0);
        if (first < 0 || count <= 0 || first + count > outer) {
            throw new IllegalArgumentException("narrow [" + first + ", " + (first + count) + ") of " + shape);
        }
        long rowBytes = byteSize() / outer;
        return new Tensor(dtype, shape.withDim(0, count), device, memory().asSlice(first * rowBytes, count * rowBytes));
    }

    /** Whether this is a host tensor whose arena is still open. */
    public boolean isAlive() {
        return memory.scope().isAlive();
    }

    /** Host only: element {@code index} (flat, row-major) converted to float. */
    public float getFloat(long index) {
        requireHost();
        return switch (dtype) {
            case F32 -> memory().getAtIndex(F32_LE, index);
            case F16 -> Float.float16ToFloat(memory().getAtIndex(I16_LE, index));
            case BF16 -> Float.intBitsToFloat((memory().getAtIndex(I16_LE, index) & 0xFFFF) << 16);
            case F64 -> (float) memory().getAtIndex(F64_LE, index);
            case I32 -> memory().getAtIndex(I32_LE, index);
            case I64 -> memory().getAtIndex(I64_LE, index);
            case U8 -> memory().get(ValueLayout.JAVA_BYTE, index) & 0xFF;
        };
    }

    /** Host only: element {@code index} (flat, row-major) of an integer tensor. */
    public long getLong(long index) {
        requireHost();
        return switch (dtype) {
            case I32 -> memory().getAtIndex(I32_LE, index);
            case I64 -> memory().getAtIndex(I64_LE, index);
            case U8 -> memory().get(ValueLayout.JAVA_BYTE, index) & 0xFF;
            default -> throw new IllegalStateException("getLong on a " + dtype + " tensor");
        };
    }

    /** Host only, F32 only: sets element {@code index}. */
    public void setFloat(long index, float value) {
        requireHost();
        if (dtype != DType.F32) {
            throw new IllegalStateException("setFloat on a " + dtype + " tensor");
        }
        memory().setAtIndex(F32_LE, index, value);
    }

    /** Host only: all elements converted to float, on the Java heap (tests and small tensors). */
    public float[] toFloatArray() {
        requireHost();
        if (elementCount() > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor " + shape + " too large for a Java array");
        }
        float[] values = new float[(int) elementCount()];
        if (dtype == DType.F32) {
            MemorySegment.copy(memory(), F32_LE, 0, values, 0, values.length);
        } else {
            for (int i = 0; i < values.length; i++) {
                values[i] = getFloat(i);
            }
        }
        return values;
    }

    /** Host only: all elements of an integer tensor, on the Java heap. */
    public long[] toLongArray() {
        requireHost();
        long[] values = new long[Math.toIntExact(elementCount())];
        for (int i = 0; i < values.length; i++) {
            values[i] = getLong(i);
        }
        return values;
    }

    private void requireHost() {
        if (!device.isHost()) {
            throw new IllegalStateException("element access on a " + device + " tensor; download it first");
        }
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + shape + " on " + device + "]";
    }
}
