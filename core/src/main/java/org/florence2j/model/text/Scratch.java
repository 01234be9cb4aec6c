package org.florence2j.model.text;

import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * One flat F32 device buffer, a piece of a {@link ScratchBlock} with a capacity in elements, seen through
 * exact-shape views made
 * per request. Views are Java objects over the same memory, so a request of any size up to the capacity costs no
 * device allocation.
 */
final class Scratch {
    private final Tensor flat; // [capacityElements]

    private Scratch(Tensor flat) {
        this.flat = flat;
    }

    /** A scratch over {@code flat}, an F32 {@code [capacityElements]} tensor. */
    static Scratch of(Tensor flat) {
        return new Scratch(flat);
    }

    /** The first {@code product(dims)} elements seen as {@code dims}. */
    Tensor view(int... dims) {
        return slice(0, dims);
    }

    /** Elements {@code [elementOffset, elementOffset + product(dims))} seen as {@code dims}. */
    Tensor slice(long elementOffset, int... dims) {
        Shape shape = new Shape(dims);
        if (elementOffset + shape.elementCount() > flat.elementCount()) {
            throw new IllegalArgumentException("view " + shape + " at element " + elementOffset
                    + " exceeds scratch capacity " + flat.elementCount());
        }
        return flat.narrow(Math.toIntExact(elementOffset), Math.toIntExact(shape.elementCount())).reshape(shape);
    }
}
