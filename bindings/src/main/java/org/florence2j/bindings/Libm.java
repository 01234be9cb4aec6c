package org.florence2j.bindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The C math library's {@code exp}, for values that must equal Python's {@code math.exp} bit for bit: CPython calls
 * the platform's {@code exp}, while {@link Math#exp} may differ from it in the last bit (about one argument in 400
 * on [-3, 0]). Bound from the system's default lookup, which holds libm on Linux.
 */
public final class Libm {
    private static final MethodHandle EXP = bindExp();

    private Libm() {}

    /** The C library's {@code exp(x)}. */
    public static double exp(double x) {
        try {
            return (double) EXP.invokeExact(x);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("unexpected checked exception from a downcall", t);
        }
    }

    private static MethodHandle bindExp() {
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find("exp")
                .map(symbol -> linker.downcallHandle(symbol,
                        FunctionDescriptor.of(ValueLayout.JAVA_DOUBLE, ValueLayout.JAVA_DOUBLE),
                        Linker.Option.critical(false)))
                .orElseThrow(() -> new NativeLibraryException("libm", List.of("the default lookup"),
                        "the C math library's exp was not found in the system's default lookup"));
    }
}
