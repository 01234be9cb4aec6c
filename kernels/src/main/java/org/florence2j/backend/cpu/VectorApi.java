package org.florence2j.backend.cpu;

/**
 * Whether this JVM gives florence2j the JDK's Vector API, an incubator module the JVM resolves only when asked
 * ({@code --add-modules=jdk.incubator.vector}). Without it the CPU backend runs its Java kernels as scalar loops
 * and leaves a decoder step's small ops to oneDNN, and never initialises or runs a class that uses the module
 * ({@link VectorKernels}, {@link VectorMath}, {@link VectorLogSoftmaxTopK}, {@link SmallAttention},
 * {@link PackedCrossAttention}), which would fail with a {@link NoClassDefFoundError}. (Verifying
 * {@code CpuBackend}'s constructor loads {@link VectorLogSoftmaxTopK}, to check that it is a {@link LogSoftmaxTopK},
 * which needs none of the module's classes.)
 */
final class VectorApi {
    /** The class whose loading tells that the module is resolved and readable from florence2j's classes. */
    private static final String PROBE = "jdk.incubator.vector.FloatVector";

    /** Whether the Vector API is there, checked once per class loader. */
    static final boolean AVAILABLE = loadable();

    private VectorApi() {}

    private static boolean loadable() {
        try {
            Class.forName(PROBE, false, VectorApi.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError absent) {
            return false;
        }
    }
}
