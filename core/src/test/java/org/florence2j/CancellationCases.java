package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.florence2j.model.Taps;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A request stops early when its caller is interrupted or its timeout passes: at once while it waits for the engine,
 * at the engine's next check while it runs (vision tower, encoder, each decoder step), and the model serves
 * the next request as if nothing had happened. Stops inside the engine are made deterministic by a listener or tap
 * that sleeps past the timeout, so that the next check is certain to see it. Each device runs these cases through a
 * subclass that loads the model there.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CancellationCases {
    private static final RunOptions SHORT = RunOptions.defaults().withMaxNewTokens(12);
    private static final Duration TIMEOUT = Duration.ofMillis(300);
    private static final long PAST_TIMEOUT_MS = 600;
    private Florence2 model;
    private Florence2Request request;
    private int[] greedyIds;
    private int[] beamIds;

    /** The tiny golden model in {@code folder}, on the device under test. */
    abstract Florence2 load(Path folder);

    /** Loads on the first test rather than for the class, so that a device that is missing skips each test by name. */
    @BeforeEach
    void loadModel() throws Exception {
        if (model != null) {
            return;
        }
        Path golden = Path.of(CancellationCases.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        Florence2 loaded = load(golden.resolve("model"));
        request = Florence2Request.of(golden.resolve("images/small_37x29.png"), Task.CAPTION);
        try {
            greedyIds = loaded.run(request, SHORT.greedy()).generation().generatedIds();
            beamIds = loaded.run(request, SHORT.withNumBeams(3)).generation().generatedIds();
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
        model = loaded;
        assertTrue(greedyIds.length > 3, "the golden caption must take several steps to test stopping between them");
    }

    @AfterAll
    void close() {
        if (model != null) {
            model.close();
        }
    }

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    /** The model's next requests give the ids they gave before any request was stopped. */
    private void assertModelGoesOn() {
        assertArrayEquals(greedyIds, model.run(request, SHORT.greedy()).generation().generatedIds());
        assertArrayEquals(beamIds, model.run(request, SHORT.withNumBeams(3)).generation().generatedIds());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new AssertionError("the engine thread was interrupted", e);
        }
    }

    @Test
    void aTimeoutStopsGreedyDecodingBeforeTheNextStep() {
        AtomicInteger tokens = new AtomicInteger();
        var stopped = assertThrows(RequestTimeoutException.class, () -> model.run(request,
                SHORT.greedy().withTimeout(TIMEOUT).withListener((image, id, piece) -> {
                    tokens.incrementAndGet();
                    sleep(PAST_TIMEOUT_MS);
                })));
        assertEquals(1, tokens.get(), "tokens chosen after the timeout passed");
        assertTrue(stopped.getMessage().contains("timeout of 300 ms passed"), stopped.getMessage());
        assertTrue(stopped.getMessage().contains("while it ran"), stopped.getMessage());
        assertModelGoesOn();
    }

    @Test
    void aTimeoutStopsBeamSearchBeforeTheNextStep() {
        AtomicInteger steps = new AtomicInteger();
        Taps slowFirstStep = (name, tensor) -> {
            if (name.equals("decoder_logits") && steps.getAndIncrement() == 0) {
                sleep(PAST_TIMEOUT_MS);
            }
        };
        assertThrows(RequestTimeoutException.class, () -> model.run(request,
                SHORT.withNumBeams(3).withTimeout(TIMEOUT).withTaps(slowFirstStep)));
        assertEquals(1, steps.get(), "decoder steps run after the timeout passed");
        assertModelGoesOn();
    }

    /**
     * Where a request out of time stops: sleeping in the tap named {@code slowAt}, it must never reach the tap named
     * {@code neverReached}, which comes after the next check.
     */
    @ParameterizedTest(name = "out of time at {0}, stopped before {1}")
    @CsvSource({
        "davit_stage0_after_conv, davit_stage0_out", // the check before each block pair
        "davit_stage0_out, davit_stage1_after_conv", // the check before each stage
        "encoder_inputs_embeds, encoder_last_hidden_state", // the check before each encoder layer
    })
    void aTimeoutStopsThePassAtItsNextCheck(String slowAt, String neverReached) {
        Set<String> seen = ConcurrentHashMap.newKeySet();
        Taps slow = (name, tensor) -> {
            seen.add(name);
            if (name.equals(slowAt)) {
                sleep(PAST_TIMEOUT_MS);
            }
        };
        assertThrows(RequestTimeoutException.class,
                () -> model.run(request, SHORT.withTimeout(TIMEOUT).withTaps(slow)));
        assertTrue(seen.contains(slowAt), "taps seen: " + seen);
        assertFalse(seen.contains(neverReached), "the request ran on past its next check: " + seen);
        assertModelGoesOn();
    }

    /**
     * An interrupt reaches the engine through the caller, so the engine may take a step or two before it sees it;
     * each token here takes 100 ms, far longer than the caller takes to pass the interrupt on.
     */
    @Test
    void anInterruptStopsDecodingAndStaysInTheCallersStatus() {
        Thread caller = Thread.currentThread();
        AtomicInteger tokens = new AtomicInteger();
        var stopped = assertThrows(RequestCancelledException.class, () -> model.run(request,
                SHORT.greedy().withListener((image, id, piece) -> {
                    if (tokens.incrementAndGet() == 1) {
                        caller.interrupt();
                    }
                    sleep(100);
                })));
        assertFalse(stopped instanceof RequestTimeoutException, stopped.toString());
        assertTrue(stopped.getMessage().contains("interrupted"), stopped.getMessage());
        assertTrue(tokens.get() <= 2, tokens.get() + " tokens chosen after the interrupt");
        assertTrue(Thread.interrupted(), "the interrupt was swallowed");
        assertModelGoesOn();
    }

    /**
     * A caller already interrupted decodes its image as usual (ImageIO's interruptible channels once made a valid
     * file "not an image" here), and its request is then never handed to the engine.
     */
    @Test
    void anInterruptedCallerIsCancelledNotRefusedItsImage() {
        Thread.currentThread().interrupt();
        var stopped = assertThrows(RequestCancelledException.class, () -> model.run(request, SHORT));
        assertTrue(stopped.getMessage().contains("interrupted"), stopped.getMessage());
        assertTrue(stopped.getMessage().contains("before the engine started it"), stopped.getMessage());
        assertTrue(Thread.interrupted(), "the interrupt was swallowed");
        assertModelGoesOn();
    }

    /** A request queued behind a long one gives up at its timeout or interrupt without waiting for the engine. */
    @Test
    void aQueuedRequestGivesUpWithoutWaitingForTheEngine() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(2);
        try (HeldEngine held = HeldEngine.hold(callers, model, request, SHORT)) {
            var timedOut = assertThrows(RequestTimeoutException.class,
                    () -> model.run(request, SHORT.withTimeout(TIMEOUT)));
            assertTrue(timedOut.getMessage().contains("before the engine started it"), timedOut.getMessage());

            HeldEngine.Queued<Florence2Result> queued = HeldEngine.queueBehind(callers, model, request, SHORT);
            queued.thread().interrupt();
            var cancelled = assertInstanceOf(RequestCancelledException.class,
                    assertThrows(java.util.concurrent.ExecutionException.class,
                            () -> queued.result().get(60, TimeUnit.SECONDS)).getCause());
            assertTrue(cancelled.getMessage().contains("before the engine started it"), cancelled.getMessage());
            assertTrue(held.holds(), "the first request must still hold the engine");

            assertArrayEquals(greedyIds, held.release().generation().generatedIds());
        } finally {
            callers.shutdownNow();
        }
        assertModelGoesOn();
    }

    @Test
    void aRequestWithinItsTimeoutEndsAsUsual() {
        assertArrayEquals(beamIds, model.run(request, SHORT.withNumBeams(3).withTimeout(Duration.ofMinutes(5)))
                .generation().generatedIds());
        List<Florence2Result> batch = model.runBatch(List.of(request, request),
                SHORT.greedy().withTimeout(Duration.ofDays(365L * 1000)));
        assertArrayEquals(greedyIds, batch.get(1).generation().generatedIds());
    }

    @Test
    void aTimeoutMustBePositive() {
        assertThrows(InvalidInputException.class, () -> SHORT.withTimeout(Duration.ZERO));
        assertThrows(InvalidInputException.class, () -> SHORT.withTimeout(Duration.ofMillis(-1)));
    }
}
