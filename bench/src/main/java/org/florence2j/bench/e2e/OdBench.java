package org.florence2j.bench.e2e;

import java.util.concurrent.TimeUnit;
import org.florence2j.Task;
import org.florence2j.generate.GenerationResult;
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
 * {@code <OD>} end to end, warm in process: a 640×480 image, 3 beams, exactly 128 new tokens (EOS disabled,
 * see {@link EndToEnd}), random Florence-2-base weights. Time per request.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx2g"})
public class OdBench {
    /**
     * The backend's compute type; {@code -p dtype=bf16} for the bf16 mode, {@code f32-bf16-decoder} for F32 with the
     * decoder's per-step weights in bf16 ({@code Florence2Options.bf16Decoder}).
     */
    @Param({"f32"})
    public String dtype;

    private EndToEnd run;

    @Setup(Level.Trial)
    public void setUp() {
        run = EndToEnd.open(Task.OD, 128, dtype);
    }

    @Benchmark
    public GenerationResult od() {
        return run.run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        run.close();
    }
}
