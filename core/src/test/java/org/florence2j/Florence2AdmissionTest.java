package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.florence2j.model.Taps;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Florence2Options#maxConcurrentCalls}: a model past its limit refuses a call at once, before its image is
 * decoded; a call counts from its start (still preprocessing, say), and every way a call ends (results, a timeout in
 * the queue, a refused input) frees its place. A {@link HeldEngine} makes certain what is in progress.
 */
class Florence2AdmissionTest {
    private static final RunOptions SHORT = RunOptions.defaults().withMaxNewTokens(12);
    private static final int LIMIT = 2;
    /** Calls expected to be refused carry it, so that one admitted by mistake fails instead of waiting forever. */
    private static final RunOptions PROBE = SHORT.withTimeout(Duration.ofSeconds(5));
    private static Path golden;
    private static Florence2 model;
    private static Florence2Request request;
    private static int[] greedyIds;
    private ExecutorService callers;

    @BeforeAll
    static void load() throws Exception {
        golden = Path.of(Florence2AdmissionTest.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        model = Florence2.load(golden.resolve("model"),
                Florence2Options.defaults().withThreads(1).withMaxConcurrentCalls(LIMIT));
        request = Florence2Request.of(golden.resolve("images/small_37x29.png"), Task.CAPTION);
        greedyIds = model.run(request, SHORT.greedy()).generation().generatedIds();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @BeforeEach
    void startCallers() {
        callers = Executors.newFixedThreadPool(LIMIT);
    }

    @AfterEach
    void stopCallers() {
        callers.shutdownNow();
    }

    @Test
    void optionsRefuseALimitBelowOne() {
        assertEquals(Integer.MAX_VALUE, Florence2Options.defaults().maxConcurrentCalls());
        var zero = assertThrows(IllegalArgumentException.class,
                () -> Florence2Options.defaults().withMaxConcurrentCalls(0));
        assertTrue(zero.getMessage().contains("maxConcurrentCalls"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Florence2Options.defaults().withMaxConcurrentCalls(-1));
    }

    @Test
    void aCallPastTheLimitIsRefusedBeforeItsImageIsDecoded() throws Exception {
        try (HeldEngine held = HeldEngine.hold(callers, model, request, SHORT)) {
            HeldEngine.Queued<Florence2Result> queued = HeldEngine.queueBehind(callers, model, request, SHORT.greedy());

            var refused = assertThrows(RequestRejectedException.class, () -> model.run(request, PROBE));
            assertTrue(refused.getMessage().contains(LIMIT + " calls are already in progress"),
                    refused.getMessage());
            Florence2Request missing = Florence2Request.of(golden.resolve("images/no_such_image.png"), Task.CAPTION);
            assertThrows(RequestRejectedException.class, () -> model.run(missing, PROBE),
                    "a refused call must not decode its image");
            assertTrue(held.holds(), "the first request must still hold the engine");

            assertArrayEquals(greedyIds, held.release().generation().generatedIds());
            assertArrayEquals(greedyIds, queued.result().get(60, TimeUnit.SECONDS).generation().generatedIds());
        }
        assertArrayEquals(greedyIds, model.run(request, PROBE.greedy()).generation().generatedIds(),
                "refusals must not keep places");
    }

    @Test
    void aCallThatTimesOutInTheQueueFreesItsPlace() throws Exception {
        try (HeldEngine held = HeldEngine.hold(callers, model, request, SHORT)) {
            assertThrows(RequestTimeoutException.class,
                    () -> model.run(request, SHORT.greedy().withTimeout(Duration.ofMillis(200))));
            HeldEngine.Queued<Florence2Result> queued = HeldEngine.queueBehind(callers, model, request, SHORT.greedy());
            assertThrows(RequestRejectedException.class, () -> model.run(request, PROBE));

            assertArrayEquals(greedyIds, held.release().generation().generatedIds());
            assertArrayEquals(greedyIds, queued.result().get(60, TimeUnit.SECONDS).generation().generatedIds());
        }
    }

    /** A call counts from its start: one still preprocessing on its own thread holds its place as one queued does. */
    @Test
    void aCallStillPreprocessingHoldsItsPlace() throws Exception {
        CountDownLatch preprocessing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Taps waitAtTheResizedImage = (name, tensor) -> {
            preprocessing.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        };
        try (HeldEngine held = HeldEngine.hold(callers, model, request, SHORT)) {
            Future<Florence2Result> early = callers.submit(() -> model.run(request,
                    SHORT.greedy().withTaps(waitAtTheResizedImage)));
            assertTrue(preprocessing.await(60, TimeUnit.SECONDS), "the second call never reached preprocessing");
            assertThrows(RequestRejectedException.class, () -> model.run(request, PROBE));
            release.countDown();
            assertArrayEquals(greedyIds, held.release().generation().generatedIds());
            assertArrayEquals(greedyIds, early.get(60, TimeUnit.SECONDS).generation().generatedIds());
        } finally {
            release.countDown();
        }
        assertArrayEquals(greedyIds, model.run(request, PROBE.greedy()).generation().generatedIds());
    }

    @Test
    void aRefusedInputFreesItsPlace() {
        Florence2Request missing = Florence2Request.of(golden.resolve("images/no_such_image.png"), Task.CAPTION);
        for (int i = 0; i <= LIMIT; i++) {
            assertThrows(InvalidInputException.class, () -> model.run(missing, PROBE));
        }
        assertArrayEquals(greedyIds, model.run(request, PROBE.greedy()).generation().generatedIds());
    }
}
