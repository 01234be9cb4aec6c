package org.florence2j.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.math.BigDecimal;

/**
 * Writes doubles as Python's {@code json.dumps} writes floats ({@code float.__repr__}), so that the CLI's JSON
 * reads exactly like the reference's: {@code 12.5}, {@code 1e-05}, {@code 3.0}, {@code 1e+16}, {@code NaN}.
 * Both languages print the shortest digits that round-trip (Java since JDK 19); they differ only in when they
 * switch to an exponent and how they spell it.
 */
final class PythonFloats {
    private PythonFloats() {}

    /** A Jackson module serialising every {@code Double} and {@code Float} (widened) this way. */
    static SimpleModule module() {
        SimpleModule module = new SimpleModule("python-floats");
        JsonSerializer<Double> doubles = new JsonSerializer<>() {
            @Override
            public void serialize(Double value, JsonGenerator out, SerializerProvider provider) throws IOException {
                out.writeNumber(repr(value));
            }
        };
        JsonSerializer<Float> floats = new JsonSerializer<>() {
            @Override
            public void serialize(Float value, JsonGenerator out, SerializerProvider provider) throws IOException {
                out.writeNumber(repr(value.doubleValue()));
            }
        };
        module.addSerializer(Double.class, doubles);
        module.addSerializer(Double.TYPE, doubles);
        module.addSerializer(Float.class, floats);
        module.addSerializer(Float.TYPE, floats);
        return module;
    }

    /** Python's {@code repr(value)}, with {@code json.dumps}'s spelling of the non-finite values. */
    static String repr(double value) {
        if (Double.isNaN(value)) {
            return "NaN";
        }
        if (Double.isInfinite(value)) {
            return value > 0 ? "Infinity" : "-Infinity";
        }
        if (value == 0) {
            return 1 / value < 0 ? "-0.0" : "0.0";
        }
        BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(value))).stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - 1 - shortest.scale(); // decimal exponent of the leading digit
        String sign = value < 0 ? "-" : "";
        // CPython's float_repr_style 'short': positional for 1e-4 <= |x| < 1e16, else scientific.
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            String exponentSign = exponent < 0 ? "-" : "+";
            return sign + mantissa + "e" + exponentSign + String.format("%02d", Math.abs(exponent));
        }
        if (exponent < 0) {
            return sign + "0." + "0".repeat(-exponent - 1) + digits;
        }
        if (exponent >= digits.length() - 1) {
            return sign + digits + "0".repeat(exponent - digits.length() + 1) + ".0";
        }
        return sign + digits.substring(0, exponent + 1) + "." + digits.substring(exponent + 1);
    }
}
