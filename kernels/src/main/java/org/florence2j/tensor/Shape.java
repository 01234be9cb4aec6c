package org.florence2j.tensor;

import java.util.Arrays;

/**
 * The dimensions of a contiguous row-major tensor, outermost first. Every dimension is at least 1; a scalar has
 * no dimensions.
 */
public record Shape(int... dims) {
    public Shape {
        dims = dims.clone();
        long count = 1;
        for (int dim : dims) {
            if (dim <= 0) {
                throw new IllegalArgumentException("shape dimensions must be positive: " + Arrays.toString(dims));
            }
            if (count > Long.MAX_VALUE / dim) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has more than 2^63 elements");
            }
            count *= dim;
        }
    }

    /** A shape of {@code dims}, outermost first; each must be positive. */
    public static Shape of(int... dims) {
        return new Shape(dims);
    }

    @Override
    public int[] dims() {
        return dims.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** Dimension {@code axis}; a negative axis counts from the end ({@code -1} is the innermost). */
    public int dim(int axis) {
        return dims[axis < 0 ? dims.length + axis : axis];
    }

    /** The innermost dimension. */
    public int last() {
        // A scalar is one row of one element.
        return dims.length == 0 ? 1 : dims[dims.length - 1];
    }

    /** Product of all dimensions. */
    public long elementCount() {
        long count = 1;
        for (int dim : dims) {
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    /** Product of all dimensions but the innermost: the number of rows of a row-major matrix view. */
    public long rows() {
        return elementCount() / last();
    }

    /** This shape with dimension {@code axis} replaced. */
    public Shape withDim(int axis, int value) {
        int[] copy = dims.clone();
        copy[axis < 0 ? dims.length + axis : axis] = value;
        return new Shape(copy);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Shape shape && Arrays.equals(dims, shape.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
