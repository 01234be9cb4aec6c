package org.florence2j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeTest {
    @Test
    void countsElementsRowsAndTheInnermostDimension() {
        Shape shape = Shape.of(2, 3, 5);
        assertEquals(30, shape.elementCount());
        assertEquals(6, shape.rows());
        assertEquals(5, shape.last());
        assertEquals(3, shape.dim(-2));
        assertEquals("[2, 3, 5]", shape.toString());
        assertEquals(Shape.of(2, 3, 5), shape.withDim(1, 3));
    }

    @Test
    void aScalarIsOneRowOfOneElement() {
        Shape scalar = Shape.of();
        assertEquals(1, scalar.elementCount());
        assertEquals(1, scalar.rows());
        assertEquals(1, scalar.last());
    }

    @Test
    void refusesNonPositiveDimensionsAndOverflow() {
        var zero = assertThrows(IllegalArgumentException.class, () -> Shape.of(4, 0));
        assertTrue(zero.getMessage().contains("[4, 0]"), zero.getMessage());
        var huge = assertThrows(IllegalArgumentException.class,
                () -> Shape.of(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
        assertTrue(huge.getMessage().contains("2^63"), huge.getMessage());
    }
}
