package org.florence2j.tensor;

import java.util.Optional;

/** Element types a {@link Tensor} can hold, with their size in bytes and their safetensors name. */
public enum DType {
    F32(4, "F32"),
    F16(2, "F16"),
    BF16(2, "BF16"),
    I32(4, "I32"),
    I64(8, "I64"),
    U8(1, "U8"),
    F64(8, "F64");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The dtype string used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Whether this is a floating-point type. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** The dtype for a safetensors dtype string, if florence2j knows it. */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType dtype : values()) {
            if (dtype.safetensorsName.equals(name)) {
                return Optional.of(dtype);
            }
        }
        return Optional.empty();
    }
}
