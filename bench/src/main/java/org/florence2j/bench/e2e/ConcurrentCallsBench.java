package org.florence2j.bench.e2e;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.ImageSource;
import org.florence2j.RunOptions;
import org.florence2j.Task;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.tensor.DType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A service's load through the public {@link Florence2} API: {@value #CALLERS} caller threads, each making
 * {@value #CALLS_EACH} calls one after the other on one shared model, the time for all of them per operation (so
 * calls per second = {@value #CALLERS} × {@value #CALLS_EACH} ÷ the score). {@code coalesce} is
 * {@link Florence2Options#maxCoalescedImages}: 1 runs every call alone, more lets the engine run the calls waiting
 * together as one batch. The random 640×480 image of {@link EndToEnd}, the config's 3 beams, random Florence-2-base
 * weights ({@code <CAPTION>} of 20 new tokens, {@code <OD>} of 128; random weights reach no EOS that soon). At
 * tear-down it prints the mean time from a call to its return: what coalescing does to a caller's latency.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx3g"})
public class ConcurrentCallsBench {
    private static final int CALLERS = 4;
    private static final int CALLS_EACH = 2;

    /** {@code Florence2Options.maxCoalescedImages}. */
    @Param({"1", "4"})
    public int coalesce;

    /** {@code CAPTION} (20 new tokens) or {@code OD} (128). */
    @Param({"CAPTION", "OD"})
    public String task;

    /** The compute type. */
    @Param({"f32"})
    public String dtype;

    private Florence2 model;
    private ExecutorService callers;
    private Florence2Request request;
    private RunOptions options;
    private final AtomicLong callNanos = new AtomicLong();
    private final AtomicLong calls = new AtomicLong();

    @Setup(Level.Trial)
    public void setUp() {
        Path folder = RandomBaseFolder.get(DType.F32);
        model = Florence2.load(folder, Florence2Options.defaults()
                .withDtype(DType.valueOf(dtype.toUpperCase(Locale.ROOT))).withMaxCoalescedImages(coalesce));
        callers = Executors.newFixedThreadPool(CALLERS);
        Task chosen = Task.valueOf(task);
        request = new Florence2Request(ImageSource.of(EndToEnd.randomImage(), "random-640x480"), chosen, null);
        int newTokens = chosen == Task.OD ? 128 : 20;
        options = RunOptions.defaults().withMaxNewTokens(newTokens);
        int generated = model.run(request, options).generation().generatedIds().length - 1;
        if (generated != newTokens) {
            tearDown();
            throw new IllegalStateException("generated " + generated + " tokens, expected " + newTokens);
        }
    }

    @Benchmark
    public int concurrentCalls() throws InterruptedException, ExecutionException {
        List<Future<Integer>> done = new ArrayList<>(CALLERS);
        for (int c = 0; c < CALLERS; c++) {
            done.add(callers.submit(() -> {
                int tokens = 0;
                for (int i = 0; i < CALLS_EACH; i++) {
                    long start = System.nanoTime();
                    tokens += model.run(request, options).generation().generatedIds().length;
                    callNanos.addAndGet(System.nanoTime() - start);
                    calls.incrementAndGet();
                }
                return tokens;
            }));
        }
        int tokens = 0;
        for (Future<Integer> caller : done) {
            tokens += caller.get();
        }
        return tokens;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (calls.get() > 0) {
            System.out.printf(Locale.ROOT, "%nConcurrentCallsBench %s coalesce=%d: mean call latency %.0f ms over %d"
                    + " calls (warm-up included)%n", task, coalesce, callNanos.get() / 1e6 / calls.get(), calls.get());
        }
        callers.shutdown();
        model.close();
    }
}
