package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Doubles print as CPython's {@code repr} / {@code json.dumps} print them. */
class PythonFloatsTest {
    @Test
    void matchesPythonRepr() {
        // Expected strings are what CPython 3 prints for repr(x).
        assertEquals("12.5", PythonFloats.repr(12.5));
        assertEquals("3.0", PythonFloats.repr(3.0));
        assertEquals("-0.0", PythonFloats.repr(-0.0));
        assertEquals("0.0001", PythonFloats.repr(1e-4));
        assertEquals("1e-05", PythonFloats.repr(1e-5));
        assertEquals("1.5e-07", PythonFloats.repr(1.5e-7));
        assertEquals("0.0005", PythonFloats.repr(0.0005));
        assertEquals("1234567.0", PythonFloats.repr(1234567.0));
        assertEquals("1e+16", PythonFloats.repr(1e16));
        assertEquals("1000000000000000.0", PythonFloats.repr(1e15));
        assertEquals("0.1", PythonFloats.repr(0.1));
        assertEquals("79.19999694824219", PythonFloats.repr((double) 79.2f));
        assertEquals("NaN", PythonFloats.repr(Double.NaN));
        assertEquals("-Infinity", PythonFloats.repr(Double.NEGATIVE_INFINITY));
    }
}
