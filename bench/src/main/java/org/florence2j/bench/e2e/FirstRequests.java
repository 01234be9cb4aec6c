package org.florence2j.bench.e2e;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Locale;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.ImageSource;
import org.florence2j.RunOptions;
import org.florence2j.Task;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.tensor.DType;

/**
 * The first requests of a fresh process through the public API, each timed: what a service sees while the JIT
 * compiles florence2j's Java kernels (JMH's forks warm up before they measure, so its benchmarks hide this). Loads
 * the random Florence-2-base folder of {@link RandomBaseFolder}, then runs {@code <CAPTION>} of 20 new tokens on
 * the random 640×480 image of {@link EndToEnd} {@code requests} times, and prints the load, each request and the
 * JIT compilers' accumulated time ({@link CompilationMXBean}) after each.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector \
 *     -cp bench/target/benchmarks.jar org.florence2j.bench.e2e.FirstRequests [requests] [f32|bf16]
 * </pre>
 */
public final class FirstRequests {
    private static final int NEW_TOKENS = 20;

    private FirstRequests() {}

    public static void main(String[] args) {
        if (args.length > 2) {
            System.err.println("usage: FirstRequests [requests, default 6] [f32|bf16, default f32]");
            System.exit(2);
        }
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        DType dtype = DType.valueOf((args.length > 1 ? args[1] : "f32").toUpperCase(Locale.ROOT));
        Path folder = RandomBaseFolder.get(DType.F32);
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        Florence2Request request = new Florence2Request(ImageSource.of(EndToEnd.randomImage(), "random-640x480"),
                Task.CAPTION, null);
        RunOptions options = RunOptions.defaults().withMaxNewTokens(NEW_TOKENS);
        long start = System.nanoTime();
        try (Florence2 model = Florence2.load(folder, Florence2Options.defaults().withDtype(dtype))) {
            System.out.printf(Locale.ROOT, "%s load %.0f ms (JIT so far %d ms)%n", dtype, (System.nanoTime() - start)
                    / 1e6, jit.getTotalCompilationTime());
            for (int i = 1; i <= requests; i++) {
                long requestStart = System.nanoTime();
                int generated = model.run(request, options).generation().generatedIds().length - 1;
                System.out.printf(Locale.ROOT, "request %d: %.0f ms, %d tokens (JIT so far %d ms)%n", i,
                        (System.nanoTime() - requestStart) / 1e6, generated, jit.getTotalCompilationTime());
            }
        }
    }
}
