package org.florence2j.bindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The C math library's {@code exp}, {@code sin} and {@code cos}, for values that must equal those of the C and
 * Python code the reference runs bit for bit: CPython's {@code math.exp} and Pillow's resampling filters call
 * them, while {@link Math}'s may differ in the last bit ({@code exp}: about one argument in 400 on [-3, 0]). Bound
 * from the system's default lookup, which holds libm on Linux.
 */
public final class Libm {
    private static final MethodHandle EXP = bind("exp");
    private static final MethodHandle SIN = bind("sin");
    private static final MethodHandle COS = bind("cos");

    private Libm() {}

    /** The C library's {@code exp(x)}. */
    public static double exp(double x) {
        return call(EXP, x);
    }

    /** The C library's {@code sin(x)}. */
    public static double sin(double x) {
        return call(SIN, x);
    }

    /** The C library's {@code cos(x)}. */
    public static double cos(double x) {
        return call(COS, x);
    }

    private static double call(MethodHandle function, double x) {
        try {
            return (double) function.invokeExact(x);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static MethodHandle bind(String name) {
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find(name)
                .map(symbol -> linker.downcallHandle(symbol,
                        FunctionDescriptor.of(ValueLayout.JAVA_DOUBLE, ValueLayout.JAVA_DOUBLE),
                        Linker.Option.critical(false)))
                .orElseThrow(() -> new NativeLibraryException("libm", List.of("the default lookup"),
                        "the C math library's " + name + " was not found in the system's default lookup"));
    }
}
