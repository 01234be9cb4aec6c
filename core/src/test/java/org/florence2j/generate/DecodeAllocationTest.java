package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedClass;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;
import org.florence2j.backend.Backend;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.config.EarlyStopping;
import org.florence2j.model.Session;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 3.8 / 6.3: a generated token allocates nothing. Runs the whole session (decoder step views, KV-cache
 * reorder, search) on the tiny model, on {@link NullBackend} (the session and search alone) and on the real
 * {@link CpuBackend} (its ops too: primitive cache look-ups, attention, linear), and compares the bytes this thread
 * allocates for a short and a long generation: the difference per extra token must stay below what the longer
 * result arrays themselves need (8 bytes per token and row: one id, one score). EOS is -1 (no token), so both runs
 * take every step whatever the logits; the no-repeat 3-gram ban is on, so the steps also hand ban lists to the
 * backend's {@code logSoftmaxTopK}; a timeout check runs before every step. The build runs this class in JVMs of its
 * own (core's pom), once as it is and once with no method of florence2j inlined: whether C2 inlines a helper depends
 * on the profile the earlier code left, and a helper that takes or returns a vector allocates whenever it is not
 * inlined. A failure names the frames that allocate.
 */
class DecodeAllocationTest {
    private static final int SHORT = 8;
    private static final int LONG = 40;
    /**
     * How long pairs of generations are measured at most, for the steady state. A pair takes ~0.1 s, and on a
     * two-core machine C2 can still be compiling a Vector API kernel (whose interpreted form allocates) seconds after
     * the warm-up when the test classes before this one left it a long queue: with five other generation test
     * classes in the JVM, layerNormRows or selectTop still allocated after 5 pairs in one run of three to nine, after
     * 10 to 40 pairs in some. An allocation the step really makes shows in every pair until the end.
     */
    private static final long MEASURE_NANOS = 20_000_000_000L;
    /** Pairs measured at most (the null backend's take microseconds, so the time limit alone would be millions). */
    private static final int MAX_MEASUREMENTS = 200;

    @ParameterizedTest
    @ValueSource(strings = {"null", "cpu", "cpu-bf16", "cpu-bf16-decoder"})
    void generatedTokensAllocateNothing(String backendName) {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Backend backend = open(backendName);
                GoldenText golden = new GoldenText(backend,
                        backendName.equals("cpu-bf16-decoder") ? DType.BF16 : DType.F32);
                Session session = new Session(golden.backend(), golden.model(), new Session.Limits(2, 32, LONG, 3))) {
            // A timeout check like the API's runs before every step, as in a request with RunOptions.withTimeout.
            long timeout = System.nanoTime() + TimeUnit.HOURS.toNanos(1);
            session.setCancellation(() -> {
                if (System.nanoTime() - timeout > 0) {
                    throw new IllegalStateException("an hour passed");
                }
            });
            Tensor embeds = Tensor.allocateHost(DType.F32, new Shape(1, 20, 64), golden.arena());
            List<Tensor> images = List.of(embeds, embeds.reshape(new Shape(1, 20, 64)));
            for (int beams : new int[] {1, 3}) {
                GenerationOptions options = new GenerationOptions(beams, SHORT, 3, 2, -1, 1, -1, -1, 1.0,
                        EarlyStopping.TRUE, 0);
                // Warm-up: every primitive (one per attention length) is made and the step path is compiled.
                for (int warmup = 0; warmup < 20; warmup++) {
                    session.generateFromEmbeds(images, options.withMaxNewTokens(LONG));
                    session.generateFromEmbeds(images, options);
                }
                // C2 may still be compiling the Vector API kernels after the warm-up (MEASURE_NANOS): measure again
                // until a pair of generations shows the steady state, within the time and count limits.
                double perToken = Double.MAX_VALUE;
                long deadline = System.nanoTime() + MEASURE_NANOS;
                int attempt = 0;
                while (!steady(perToken, images.size()) && attempt < MAX_MEASUREMENTS
                        && System.nanoTime() < deadline) {
                    attempt++;
                    long thread = Thread.currentThread().threadId();
                    long before = threads.getThreadAllocatedBytes(thread);
                    session.generateFromEmbeds(images, options);
                    long shortBytes = threads.getThreadAllocatedBytes(thread) - before;
                    before = threads.getThreadAllocatedBytes(thread);
                    GenerationResult[] results = session.generateFromEmbeds(images, options.withMaxNewTokens(LONG));
                    long longBytes = threads.getThreadAllocatedBytes(thread) - before;
                    perToken = (double) (longBytes - shortBytes) / (LONG - SHORT);
                    System.out.printf("%s, %d beams, measurement %d: %d B for %d tokens, %d B for %d tokens: %.1f B"
                            + " per extra token%n", backendName, beams, attempt, shortBytes, SHORT, longBytes, LONG,
                            perToken);
                    assertTrue(results[0].sequence().length == LONG + 1, "every step taken");
                }
                if (!steady(perToken, images.size())) {
                    fail(backendName + ", " + beams + " beams: " + perToken + " bytes allocated per generated token in"
                            + " each of " + attempt + " measurements; where a longer generation allocates: "
                            + allocationSites(() -> session.generateFromEmbeds(images,
                                    options.withMaxNewTokens(LONG))));
                }
            }
        }
    }

    /**
     * The frames that allocate while {@code work} runs on this thread, heaviest first: a flight recording's
     * allocation samples, each stack's first frame of florence2j (or its top frame), by sampled weight. A step that
     * allocates only in some processes (the JIT's state decides) is otherwise hard to catch again.
     */
    private static String allocationSites(Runnable work) {
        Path file = null;
        try (Recording recording = new Recording()) {
            recording.enable("jdk.ObjectAllocationSample").with("throttle", "100000/s").withStackTrace();
            recording.start();
            for (int i = 0; i < 5; i++) {
                work.run();
            }
            recording.stop();
            file = Files.createTempFile("decode-allocation", ".jfr");
            recording.dump(file);
            long thread = Thread.currentThread().threadId();
            Map<String, Long> bytesBySite = new HashMap<>();
            for (RecordedEvent event : RecordingFile.readAllEvents(file)) {
                if (event.getThread() != null && event.getThread().getJavaThreadId() == thread
                        && event.getStackTrace() != null) {
                    bytesBySite.merge(site(event), event.getLong("weight"), Long::sum);
                }
            }
            return bytesBySite.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                    .limit(5).map(e -> e.getKey() + " (sampled weight " + e.getValue() + " B)")
                    .collect(Collectors.joining("; "));
        } catch (IOException e) {
            return "no flight recording (" + e + ")";
        } finally {
            if (file != null) {
                file.toFile().delete();
            }
        }
    }

    /** An allocation sample's first florence2j frame (else its top frame) and the class it allocated. */
    private static String site(RecordedEvent event) {
        List<RecordedFrame> frames = event.getStackTrace().getFrames();
        RecordedFrame chosen = frames.stream()
                .filter(f -> f.getMethod().getType().getName().startsWith("org.florence2j"))
                .findFirst().orElse(frames.isEmpty() ? null : frames.get(0));
        String where = chosen == null ? "?"
                : chosen.getMethod().getType().getName() + "." + chosen.getMethod().getName() + ":"
                        + chosen.getLineNumber() + " (" + chosen.getType() + ")";
        RecordedClass allocated = event.getClass("objectClass");
        return where + " " + (allocated == null ? "?" : allocated.getName());
    }

    /**
     * Whether a pair of generations shows the steady state: at most what the longer results themselves take per
     * extra token (an id and a score per row, and some slack), and not less than nothing, which a shorter run still
     * allocating beside a longer one that no longer does would show.
     */
    private static boolean steady(double perToken, int rows) {
        return perToken >= 0 && perToken <= 8.0 * rows + 8;
    }

    /** {@code null}: {@link NullBackend}; {@code cpu}, {@code cpu-bf16}: a one-thread {@link CpuBackend}. */
    private static Backend open(String name) {
        return switch (name) {
            case "null" -> new NullBackend();
            case "cpu" -> new CpuBackend(1);
            case "cpu-bf16" -> new CpuBackend(1, DType.BF16);
            case "cpu-bf16-decoder" -> new CpuBackend(1); // F32, the decoder's step weights packed in bf16
            default -> throw new IllegalArgumentException(name);
        };
    }
}
