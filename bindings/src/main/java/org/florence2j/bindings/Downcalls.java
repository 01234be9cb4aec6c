package org.florence2j.bindings;

/**
 * Runs downcalls for the bindings: {@code invokeExact} declares {@code Throwable}, but a native function cannot throw
 * a checked exception, so anything checked here is a bug in the binding (a wrong descriptor); runtime exceptions and
 * errors pass through unchanged.
 */
final class Downcalls {
    private Downcalls() {}

    /** A downcall returning a C {@code int} status. */
    @FunctionalInterface
    interface IntCall {
        int invoke() throws Throwable;
    }

    /**
     * A downcall returning a pointer or a 64-bit integer (boxed: these are error strings, version queries and
     * allocations, never per-op calls, which return {@code int} statuses through {@link IntCall}).
     */
    @FunctionalInterface
    interface ValueCall<T> {
        T invoke() throws Throwable;
    }

    /** Runs one downcall returning a C {@code int}. */
    static int invoke(IntCall call) {
        try {
            return call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** As {@link #invoke(IntCall)}, for a function returning a pointer or a 64-bit integer. */
    static <T> T invokeValue(ValueCall<T> call) {
        try {
            return call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * What a binding's {@code catch (Throwable t)} around an {@code invokeExact} throws: {@code t} itself when it is
     * unchecked (the call site writes {@code throw rethrow(t)} so the compiler sees it end), else a wrapping
     * {@link IllegalStateException}.
     */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("unexpected checked exception from a downcall", t);
    }
}
