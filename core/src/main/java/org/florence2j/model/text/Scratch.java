package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * One flat F32 device buffer, allocated once with a capacity in elements, seen through exact-shape views made
 * per request. Views are Java objects over the same memory, so a request of any size up to the capacity costs no
 * device allocation.
 */
final class Scratch {
    private final Tensor flat; // [capacityElements]

    private Scratch(Tensor flat) {
        this.flat = flat;
    }

    static Scratch allocate(Backend backend, Arena arena, long capacityElements) {
        return new Scratch(backend.allocate(DType.F32, new Shape(Math.toIntExact(capacityElements)), arena));
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
