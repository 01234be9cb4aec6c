package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.florence2j.backend.Backend;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * The decode step {@link DecodeStepBench} times, by backend op and linear weight shape, with each linear's weight
 * bandwidth as a share of the read bandwidth measured in the same process: {@code rounds} blocks of 20 steps
 * through {@link OpProfile}'s timing proxy, each followed by a 256 MB read ({@link OneDnnReadProbe}) on the step's
 * threads; the first fifth of the blocks warm up and are dropped. It shows whether a step's excess over streaming
 * its weights lies in the linears themselves or in the ops between them. Not a JMH benchmark (the proxy adds a
 * little per op).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector \
 *     -cp bench/target/benchmarks.jar org.florence2j.bench.model.DecodeProfile [rounds] [f32|bf16]
 * </pre>
 */
public final class DecodeProfile {
    private static final long READ_ROWS = 4096;

    private DecodeProfile() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be at least 1: " + rounds);
        }
        String dtype = args.length > 1 ? args[1] : "f32";
        int matrixBytes = dtype.equals("bf16") ? 2 : Float.BYTES;
        int warmUp = rounds / 5;
        Map<String, long[]> timings = new TreeMap<>();
        try (LoadedCheckpoint checkpoint = Checkpoints.open(RandomBaseFolder.get(DType.F32));
                Backend real = BenchModel.backend(dtype);
                Arena arena = Arena.ofShared();
                OneDnnReadProbe read = new OneDnnReadProbe(READ_ROWS)) {
            Backend backend = OpProfile.timed(real, timings, DecodeProfile::weightShape);
            DecodeFixture fixture = DecodeFixture.load(checkpoint, backend, arena);
            double[] bandwidths = new double[rounds - warmUp];
            for (int r = 0; r < rounds; r++) {
                if (r == warmUp) {
                    timings.clear();
                }
                for (int p = 0; p < DecodeFixture.NEW_TOKENS; p++) {
                    fixture.step(backend, p);
                }
                backend.synchronize();
                read.reset();
                read.read(1, BenchModel.threads());
                if (r >= warmUp) {
                    bandwidths[r - warmUp] = read.bandwidth();
                }
            }
            Arrays.sort(bandwidths);
            double gbps = bandwidths[bandwidths.length / 2];
            long steps = (long) (rounds - warmUp) * DecodeFixture.NEW_TOKENS;
            System.out.printf("%s, %d threads: read %.1f GB/s (median of %d; p10 %.1f, p90 %.1f), %d steps%n", dtype,
                    BenchModel.threads(), gbps, bandwidths.length, bandwidths[bandwidths.length / 10],
                    bandwidths[bandwidths.length * 9 / 10], steps);
            timings.forEach((key, t) -> {
                double callsPerStep = t[1] / (double) steps;
                double microsPerStep = t[0] / 1e3 / steps;
                String line = String.format("%-42s %8.1f us/step %5.1f calls/step", key, microsPerStep, callsPerStep);
                long elements = weightElements(key);
                if (elements > 0) {
                    double weightGbps = elements * matrixBytes / (t[0] / (double) t[1]);
                    line += String.format("  weights %.1f GB/s = %.2f of the read", weightGbps, weightGbps / gbps);
                }
                System.out.println(line);
            });
        }
    }

    /** A linear's weight shape ({@code " [n, k]"}), nothing for other ops. */
    private static String weightShape(Object[] args) {
        return args != null && args.length > 2 && args[2] instanceof Tensor weight && weight.shape().rank() == 2
                && args[1] instanceof Tensor x && x.shape().last() == weight.shape().last()
                ? " " + weight.shape() : "";
    }

    /** {@code n · k} of a key {@link #weightShape} made for a linear, else 0. */
    private static long weightElements(String key) {
        if (!key.startsWith("linear") || !key.contains("[")) {
            return 0;
        }
        String[] dims = key.substring(key.indexOf('[') + 1, key.indexOf(']')).split(",\\s*");
        return Long.parseLong(dims[0]) * Long.parseLong(dims[1]);
    }
}
