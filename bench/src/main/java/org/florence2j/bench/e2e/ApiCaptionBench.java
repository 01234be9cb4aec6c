package org.florence2j.bench.e2e;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.Florence2Result;
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
 * {@code <CAPTION>} through the public {@link Florence2} API as a service runs it, each request from the JMH thread:
 * the model loaded by that thread ({@code loadedOn=caller}) or by another one that stays alive ({@code other}, a
 * service's start-up thread). The random 640×480 image of {@link EndToEnd}, the config's 3 beams, 20 new tokens
 * (random weights reach no EOS that soon: set-up checks the length). Time per request. Before {@code Florence2}
 * made every backend call on an engine thread, {@code other} took 1.10× (bf16) and 1.14× (f32) as long as
 * {@code caller} on two cores: OpenMP keeps worker threads per calling thread, and the two pools outnumbered the
 * cores.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 8)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx2g"})
public class ApiCaptionBench {
    private static final int NEW_TOKENS = 20;

    /** The compute type; {@code -p dtype=bf16} for the bf16 mode. */
    @Param({"f32"})
    public String dtype;

    /** Which thread loads the model: {@code caller} (the JMH thread) or {@code other}. */
    @Param({"caller", "other"})
    public String loadedOn;

    private ExecutorService loader;
    private Florence2 model;
    private Florence2Request request;
    private RunOptions options;

    @Setup(Level.Trial)
    public void setUp() throws InterruptedException, ExecutionException {
        Path folder = RandomBaseFolder.get(DType.F32);
        Florence2Options loadOptions = Florence2Options.defaults()
                .withDtype(DType.valueOf(dtype.toUpperCase(Locale.ROOT)));
        switch (loadedOn) {
            case "caller" -> model = Florence2.load(folder, loadOptions);
            case "other" -> {
                loader = Executors.newSingleThreadExecutor();
                model = loader.submit(() -> Florence2.load(folder, loadOptions)).get();
            }
            default -> throw new IllegalArgumentException("loadedOn is caller or other, not " + loadedOn);
        }
        request = new Florence2Request(ImageSource.of(EndToEnd.randomImage(), "random-640x480"), Task.CAPTION, null);
        options = RunOptions.defaults().withMaxNewTokens(NEW_TOKENS);
        int generated = caption().generation().generatedIds().length - 1;
        if (generated != NEW_TOKENS) {
            tearDown();
            throw new IllegalStateException("generated " + generated + " tokens, expected " + NEW_TOKENS);
        }
    }

    @Benchmark
    public Florence2Result caption() {
        return model.run(request, options);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
        if (loader != null) {
            loader.shutdown();
        }
    }
}
