package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.florence2j.bindings.CudaException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Florence2Options#maxCoalescedImages}: calls waiting for the engine at the same time run as one batch, within
 * the limit and only with the same generation options, each getting the output it gets alone; a call stopped, or
 * whose listener fails, while its batch runs ends at once and the others go on. A {@link HeldEngine} makes certain
 * which calls wait together; {@link Florence2#keptLimits} shows which ran together.
 */
class Florence2CoalescingTest {
    private static final RunOptions SHORT = RunOptions.defaults().withMaxNewTokens(12);
    private static final RunOptions SHORTER = SHORT.withMaxNewTokens(8);
    private static final RunOptions GREEDY = SHORT.greedy();
    private static Path golden;
    private static Florence2Request caption;
    private static Florence2Request detection;
    private static Florence2Request phrase;
    private static int[] captionIds;
    private static int[] detectionIds;
    private static int[] phraseIds;
    private static int[] shorterDetectionIds;
    private static int[] greedyCaptionIds;
    private static int[] greedyDetectionIds;
    private ExecutorService callers;

    @BeforeAll
    static void runAlone() throws Exception {
        golden = Path.of(Florence2CoalescingTest.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        caption = Florence2Request.of(golden.resolve("images/small_37x29.png"), Task.CAPTION);
        detection = Florence2Request.of(golden.resolve("images/gradient_160x160.png"), Task.OD);
        // A longer prompt than the others': each row of a batch is encoded at its own prompt length.
        phrase = Florence2Request.of(golden.resolve("images/noise_173x97.png"), Task.OPEN_VOCABULARY_DETECTION,
                "a cat on a mat");
        try (Florence2 alone = load(1)) {
            captionIds = ids(alone.run(caption, SHORT));
            detectionIds = ids(alone.run(detection, SHORT));
            phraseIds = ids(alone.run(phrase, SHORT));
            shorterDetectionIds = ids(alone.run(detection, SHORTER));
            greedyCaptionIds = ids(alone.run(caption, GREEDY));
            greedyDetectionIds = ids(alone.run(detection, GREEDY));
            assertEquals(1, alone.keptLimits().maxImages());
        }
    }

    private static Florence2 load(int maxCoalescedImages) {
        return Florence2.load(golden.resolve("model"),
                Florence2Options.defaults().withThreads(1).withMaxCoalescedImages(maxCoalescedImages));
    }

    private static int[] ids(Florence2Result result) {
        return result.generation().generatedIds();
    }

    private static int[] ids(HeldEngine.Queued<Florence2Result> queued) throws Exception {
        return ids(queued.result().get(60, TimeUnit.SECONDS));
    }

    /**
     * A listener of a single image's call that records each token and then waits at it until {@code goOn}, holding
     * its batch on the engine; {@code reached} counts down at the first.
     */
    private static TokenListener holding(List<Integer> heard, CountDownLatch reached, CountDownLatch goOn) {
        return (image, id, piece) -> {
            assertEquals(0, image, "the image's index in its own call");
            heard.add(id);
            reached.countDown();
            try {
                goOn.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        };
    }

    @BeforeEach
    void startCallers() {
        callers = Executors.newCachedThreadPool();
    }

    @AfterEach
    void stopCallers() {
        callers.shutdownNow();
    }

    @Test
    void optionsRefuseALimitBelowOne() {
        assertEquals(1, Florence2Options.defaults().maxCoalescedImages());
        var zero = assertThrows(IllegalArgumentException.class,
                () -> Florence2Options.defaults().withMaxCoalescedImages(0));
        assertTrue(zero.getMessage().contains("maxCoalescedImages"), zero.getMessage());
        assertEquals(4, Florence2Options.defaults().withMaxCoalescedImages(4).withThreads(2).maxCoalescedImages());
    }

    @Test
    void callsWaitingTogetherRunAsOneBatchWithTheirOwnOutputs() throws Exception {
        try (Florence2 model = load(4)) {
            HeldEngine.Queued<Florence2Result> first;
            HeldEngine.Queued<Florence2Result> second;
            HeldEngine.Queued<Florence2Result> third;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                first = HeldEngine.queueBehind(callers, model, caption, SHORT);
                second = HeldEngine.queueBehind(callers, model, detection, SHORT);
                third = HeldEngine.queueBehind(callers, model, phrase, SHORT);
                held.release();
            }
            assertArrayEquals(captionIds, ids(first));
            assertArrayEquals(detectionIds, ids(second));
            assertArrayEquals(phraseIds, ids(third));
            assertEquals(3, model.keptLimits().maxImages(), "the three waiting calls ran as one batch");
        }
    }

    @Test
    void aBatchKeepsToItsLimitAndToCallsWithTheSameOptions() throws Exception {
        try (Florence2 model = load(2)) {
            HeldEngine.Queued<Florence2Result> first;
            HeldEngine.Queued<Florence2Result> shorter;
            HeldEngine.Queued<Florence2Result> third;
            HeldEngine.Queued<Florence2Result> fourth;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                first = HeldEngine.queueBehind(callers, model, caption, SHORT);
                shorter = HeldEngine.queueBehind(callers, model, detection, SHORTER);
                third = HeldEngine.queueBehind(callers, model, detection, SHORT);
                fourth = HeldEngine.queueBehind(callers, model, phrase, SHORT);
                held.release();
            }
            assertArrayEquals(captionIds, ids(first));
            assertArrayEquals(shorterDetectionIds, ids(shorter));
            assertArrayEquals(detectionIds, ids(third));
            assertArrayEquals(phraseIds, ids(fourth));
            assertEquals(2, model.keptLimits().maxImages(), "batches of two at most");
        }
    }

    @Test
    void byDefaultEveryCallRunsAlone() throws Exception {
        try (Florence2 model = load(1)) {
            List<HeldEngine.Queued<Florence2Result>> both = captionAndDetectionTogether(model, SHORT);
            HeldEngine.Queued<Florence2Result> first = both.get(0);
            HeldEngine.Queued<Florence2Result> second = both.get(1);
            assertArrayEquals(captionIds, ids(first));
            assertArrayEquals(detectionIds, ids(second));
            assertEquals(1, model.keptLimits().maxImages());
        }
    }

    @Test
    void aCallStoppedInItsBatchLeavesAtOnceWhileTheBatchGoesOn() throws Exception {
        try (Florence2 model = load(4)) {
            CountDownLatch reached = new CountDownLatch(1);
            CountDownLatch goOn = new CountDownLatch(1);
            List<Integer> streamed = new CopyOnWriteArrayList<>();
            HeldEngine.Queued<Florence2Result> stopped;
            HeldEngine.Queued<Florence2Result> listened;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                stopped = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                listened = HeldEngine.queueBehind(callers, model, detection,
                        GREEDY.withListener(holding(streamed, reached, goOn)));
                held.release();
            }
            try {
                assertTrue(reached.await(60, TimeUnit.SECONDS), "the batch never reached its first token");
                stopped.thread().interrupt();
                // The listener still holds the batch: the stopped call returns before the batch ends.
                var cancelled = assertThrows(ExecutionException.class,
                        () -> stopped.result().get(60, TimeUnit.SECONDS));
                assertTrue(cancelled.getCause() instanceof RequestCancelledException, cancelled.getCause().toString());
                assertTrue(cancelled.getCause().getMessage().contains("while it ran"),
                        cancelled.getCause().getMessage());
                assertFalse(listened.result().isDone());
            } finally {
                goOn.countDown();
            }
            assertArrayEquals(greedyDetectionIds, ids(listened));
            assertEquals(greedyDetectionIds.length - 1, streamed.size());
            for (int i = 1; i < greedyDetectionIds.length; i++) {
                assertEquals(greedyDetectionIds[i], streamed.get(i - 1), "token " + i);
            }
            assertEquals(2, model.keptLimits().maxImages(), "the two calls ran as one batch");
            assertArrayEquals(greedyCaptionIds, ids(model.run(caption, GREEDY)), "the model serves the next call");
        }
    }

    @Test
    void aCallGivenUpWhileItWaitsIsLeftOutOfTheBatch() throws Exception {
        try (Florence2 model = load(4)) {
            HeldEngine.Queued<Florence2Result> first;
            HeldEngine.Queued<Florence2Result> third;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                first = HeldEngine.queueBehind(callers, model, caption, SHORT);
                HeldEngine.Queued<Florence2Result> givenUp = HeldEngine.queueBehind(callers, model, detection, SHORT);
                third = HeldEngine.queueBehind(callers, model, phrase, SHORT);
                givenUp.thread().interrupt();
                var cancelled = assertThrows(ExecutionException.class,
                        () -> givenUp.result().get(60, TimeUnit.SECONDS));
                assertTrue(cancelled.getCause().getMessage().contains("before the engine started it"),
                        cancelled.getCause().getMessage());
                held.release();
            }
            assertArrayEquals(captionIds, ids(first));
            assertArrayEquals(phraseIds, ids(third));
            assertEquals(2, model.keptLimits().maxImages(), "the two calls still waiting ran as one batch");
        }
    }

    @Test
    void aCallStoppedInItsBatchReturnsOnlyOnceItsListenerIsDone() throws Exception {
        try (Florence2 model = load(4)) {
            CountDownLatch reached = new CountDownLatch(1);
            CountDownLatch goOn = new CountDownLatch(1);
            List<Integer> heard = new CopyOnWriteArrayList<>();
            HeldEngine.Queued<Florence2Result> stopped;
            HeldEngine.Queued<Florence2Result> plain;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                stopped = HeldEngine.queueBehind(callers, model, caption,
                        GREEDY.withListener(holding(heard, reached, goOn)));
                plain = HeldEngine.queueBehind(callers, model, detection, GREEDY);
                held.release();
            }
            try {
                assertTrue(reached.await(60, TimeUnit.SECONDS), "the batch never reached its first token");
                stopped.thread().interrupt();
                Thread.sleep(200);
                assertFalse(stopped.result().isDone(), "returned while its listener was still running");
            } finally {
                goOn.countDown();
            }
            var cancelled = assertThrows(ExecutionException.class, () -> stopped.result().get(60, TimeUnit.SECONDS));
            assertTrue(cancelled.getCause() instanceof RequestCancelledException, cancelled.getCause().toString());
            assertArrayEquals(greedyDetectionIds, ids(plain));
            assertEquals(List.of(greedyCaptionIds[1]), heard, "no token after the stopped call's first");
        }
    }

    @Test
    void aListenerInABatchHearsItsOwnImagesByTheirIndexInItsCall() throws Exception {
        try (Florence2 model = load(4)) {
            List<List<Integer>> streamed = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            HeldEngine.Queued<Florence2Result> plain;
            HeldEngine.Queued<List<Florence2Result>> listened;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                plain = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                // Rows 1 and 2 of the batch, images 0 and 1 of this call.
                listened = HeldEngine.queueBatchBehind(callers, model, List.of(detection, caption),
                        GREEDY.withListener((image, id, piece) -> streamed.get(image).add(id)));
                held.release();
            }
            assertArrayEquals(greedyCaptionIds, ids(plain));
            List<Florence2Result> results = listened.result().get(60, TimeUnit.SECONDS);
            assertArrayEquals(greedyDetectionIds, ids(results.get(0)));
            assertArrayEquals(greedyCaptionIds, ids(results.get(1)));
            for (int image = 0; image < 2; image++) {
                int[] expected = ids(results.get(image));
                assertEquals(expected.length - 1, streamed.get(image).size(), "image " + image);
                for (int i = 1; i < expected.length; i++) {
                    assertEquals(expected[i], streamed.get(image).get(i - 1), "image " + image + ", token " + i);
                }
            }
            assertEquals(3, model.keptLimits().maxImages(), "the two calls ran as one batch");
        }
    }

    @Test
    void aListenerFailureAfterItsCallerStoppedReachesTheCallerAsItIs() throws Exception {
        IllegalStateException broken = new IllegalStateException("listener broke after the interrupt");
        CountDownLatch reached = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        AtomicReference<Thread> caller = new AtomicReference<>();
        try (Florence2 model = load(4)) {
            Future<Florence2Result> result = callers.submit(() -> {
                caller.set(Thread.currentThread());
                return model.run(caption, GREEDY.withListener((image, id, p) -> {
                    reached.countDown();
                    try {
                        goOn.await();
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                    throw broken;
                }));
            });
            try {
                assertTrue(reached.await(60, TimeUnit.SECONDS), "the call never reached its first token");
                caller.get().interrupt(); // the call now reads as stopped, and its listener is still running
            } finally {
                goOn.countDown();
            }
            var failed = assertThrows(ExecutionException.class, () -> result.get(60, TimeUnit.SECONDS));
            assertSame(broken, failed.getCause(), "the listener's failure, not the caller's stop");
        }
    }

    @Test
    void aListenerThatThrowsEndsOnlyItsOwnCall() throws Exception {
        IllegalStateException broken = new IllegalStateException("listener broke");
        try (Florence2 model = load(4)) {
            HeldEngine.Queued<Florence2Result> plain;
            HeldEngine.Queued<Florence2Result> failing;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                plain = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                failing = HeldEngine.queueBehind(callers, model, detection, GREEDY.withListener((image, id, p) -> {
                    throw broken;
                }));
                held.release();
            }
            var failed = assertThrows(ExecutionException.class, () -> failing.result().get(60, TimeUnit.SECONDS));
            assertSame(broken, failed.getCause());
            assertArrayEquals(greedyCaptionIds, ids(plain));
            assertEquals(2, model.keptLimits().maxImages(), "the two calls ran as one batch");
        }
    }

    /**
     * A listener's checked exception (another JVM language's, a sneaky throw) ends its own call as an unchecked one
     * does, wrapped as {@link TokenListener} says, in a batch and alone; the engine goes on serving.
     */
    @Test
    void aListenerThatThrowsACheckedExceptionEndsOnlyItsOwnCall() throws Exception {
        IOException closed = new IOException("client socket closed");
        TokenListener sneaky = (image, id, p) -> Florence2CoalescingTest.<RuntimeException>sneakyThrow(closed);
        try (Florence2 model = load(4)) {
            HeldEngine.Queued<Florence2Result> plain;
            HeldEngine.Queued<Florence2Result> failing;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                plain = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                failing = HeldEngine.queueBehind(callers, model, detection, GREEDY.withListener(sneaky));
                held.release();
            }
            var failed = assertThrows(ExecutionException.class, () -> failing.result().get(60, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, failed.getCause());
            assertSame(closed, failed.getCause().getCause());
            assertArrayEquals(greedyCaptionIds, ids(plain));
            assertEquals(2, model.keptLimits().maxImages(), "the two calls ran as one batch");
            Future<Florence2Result> alone = callers.submit(() -> model.run(detection, GREEDY.withListener(sneaky)));
            var aloneFailed = assertThrows(ExecutionException.class, () -> alone.get(60, TimeUnit.SECONDS));
            assertSame(closed, aloneFailed.getCause().getCause());
            assertArrayEquals(greedyDetectionIds, ids(model.run(detection, GREEDY)), "the engine goes on");
        }
    }

    /**
     * On a GPU a batch's session is checked against host memory only, so the device's allocation can still fail;
     * here every session of more than one image fails as {@code cudaMalloc} does then. Each call then runs alone
     * with its own output and its listener hears its tokens once, and each later batch holds one image fewer than
     * the one that failed, until none is tried.
     */
    @Test
    void aBatchOutOfDeviceMemoryRunsEachCallAloneAndLaterBatchesHoldFewerImages() throws Exception {
        try (Florence2 model = load(3)) {
            List<Integer> refused = new CopyOnWriteArrayList<>();
            deviceHolds(model, 1, refused);
            for (int expected : new int[] {3, 2, 1}) {
                refused.clear();
                List<Integer> streamed = new CopyOnWriteArrayList<>();
                HeldEngine.Queued<Florence2Result> first;
                HeldEngine.Queued<Florence2Result> listened;
                HeldEngine.Queued<Florence2Result> third;
                try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                    first = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                    listened = HeldEngine.queueBehind(callers, model, detection,
                            GREEDY.withListener((image, id, piece) -> streamed.add(id)));
                    third = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                    held.release();
                }
                String round = "calls tried in a batch of " + expected;
                assertArrayEquals(greedyCaptionIds, ids(first), round);
                assertArrayEquals(greedyDetectionIds, ids(listened), round);
                assertArrayEquals(greedyCaptionIds, ids(third), round);
                assertEquals(greedyDetectionIds.length - 1, streamed.size(), round + ": each token heard once");
                for (int i = 1; i < greedyDetectionIds.length; i++) {
                    assertEquals(greedyDetectionIds[i], streamed.get(i - 1), round + ", token " + i);
                }
                assertEquals(expected == 1 ? List.of() : List.of(expected), refused.stream().distinct().toList(),
                        "sessions refused");
                assertEquals(1, model.keptLimits().maxImages(), "every call ran alone");
            }
        }
    }

    /**
     * The calls of a batch that ran out of device memory run alone in their order, each with its own outcome: a call
     * of several images gets each image's output and its listener hears each image's tokens once, and a call whose
     * listener throws fails alone, without failing the calls after it.
     */
    @Test
    void callsRunAloneAfterTheirBatchRanOutKeepTheirOwnImagesAndFailures() throws Exception {
        IllegalStateException broken = new IllegalStateException("listener broke");
        try (Florence2 model = load(4)) {
            List<Integer> refused = new CopyOnWriteArrayList<>();
            deviceHolds(model, 2, refused);
            List<List<Integer>> streamed = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            HeldEngine.Queued<Florence2Result> first;
            HeldEngine.Queued<Florence2Result> failing;
            HeldEngine.Queued<List<Florence2Result>> several;
            try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
                first = HeldEngine.queueBehind(callers, model, caption, GREEDY);
                failing = HeldEngine.queueBehind(callers, model, detection, GREEDY.withListener((image, id, p) -> {
                    throw broken;
                }));
                several = HeldEngine.queueBatchBehind(callers, model, List.of(detection, caption),
                        GREEDY.withListener((image, id, piece) -> streamed.get(image).add(id)));
                held.release();
            }
            assertArrayEquals(greedyCaptionIds, ids(first));
            var failed = assertThrows(ExecutionException.class, () -> failing.result().get(60, TimeUnit.SECONDS));
            assertSame(broken, failed.getCause());
            List<Florence2Result> results = several.result().get(60, TimeUnit.SECONDS);
            int[][] expected = {greedyDetectionIds, greedyCaptionIds};
            for (int image = 0; image < 2; image++) {
                assertArrayEquals(expected[image], ids(results.get(image)), "image " + image);
                assertEquals(expected[image].length - 1, streamed.get(image).size(), "image " + image);
                for (int i = 1; i < expected[image].length; i++) {
                    assertEquals(expected[image][i], streamed.get(image).get(i - 1), "image " + image + ", token " + i);
                }
            }
            assertEquals(List.of(4), refused.stream().distinct().toList(), "the batch of four images ran out");
            assertEquals(2, model.keptLimits().maxImages(), "the call of two images ran alone, last");
        }
    }

    /** A batch that runs out below the limit lowers it below the batch's own size, not the limit's. */
    @Test
    void aBatchThatRunsOutBelowTheLimitLowersItBelowItsOwnSize() throws Exception {
        try (Florence2 model = load(4)) {
            List<Integer> refused = new CopyOnWriteArrayList<>();
            deviceHolds(model, 1, refused);
            for (List<Integer> expected : List.of(List.of(2), List.<Integer>of())) {
                refused.clear();
                List<HeldEngine.Queued<Florence2Result>> both = captionAndDetectionTogether(model, GREEDY);
                HeldEngine.Queued<Florence2Result> first = both.get(0);
                HeldEngine.Queued<Florence2Result> second = both.get(1);
                assertArrayEquals(greedyCaptionIds, ids(first));
                assertArrayEquals(greedyDetectionIds, ids(second));
                assertEquals(expected, refused.stream().distinct().toList(), "sessions refused");
            }
        }
    }

    /**
     * Queues a caption and then a detection with {@code options} behind a request that holds {@code model}'s
     * engine, and releases it once both wait: the two wait together.
     */
    private List<HeldEngine.Queued<Florence2Result>> captionAndDetectionTogether(Florence2 model, RunOptions options)
            throws Exception {
        try (HeldEngine held = HeldEngine.hold(callers, model, caption, SHORT)) {
            var first = HeldEngine.queueBehind(callers, model, caption, options);
            var second = HeldEngine.queueBehind(callers, model, detection, options);
            held.release();
            return List.of(first, second);
        }
    }

    /**
     * Makes {@code model}'s sessions of more than {@code images} images fail as {@code cudaMalloc} fails on a full
     * device, adding the images of each one refused to {@code refused}.
     */
    private static void deviceHolds(Florence2 model, int images, List<Integer> refused) {
        model.wrapSessions(sessions -> limits -> {
            if (limits.maxImages() > images) {
                refused.add(limits.maxImages());
                throw new CudaException("cudaMalloc", 2, "cudaErrorMemoryAllocation");
            }
            return sessions.apply(limits);
        });
    }

    /** A device failure other than running out of memory is the batch's: every call in it gets it. */
    @Test
    void aBatchsOtherDeviceFailureFailsEveryCallInIt() throws Exception {
        CudaException launch = new CudaException("cuLaunchKernel", 719, "CUDA_ERROR_LAUNCH_FAILED");
        try (Florence2 model = load(3)) {
            model.wrapSessions(sessions -> limits -> {
                if (limits.maxImages() > 1) {
                    throw launch;
                }
                return sessions.apply(limits);
            });
            List<HeldEngine.Queued<Florence2Result>> both = captionAndDetectionTogether(model, GREEDY);
            HeldEngine.Queued<Florence2Result> first = both.get(0);
            HeldEngine.Queued<Florence2Result> second = both.get(1);
            for (var call : List.of(first, second)) {
                var failed = assertThrows(ExecutionException.class, () -> call.result().get(60, TimeUnit.SECONDS));
                assertSame(launch, failed.getCause());
            }
            assertArrayEquals(greedyDetectionIds, ids(model.run(detection, GREEDY)), "the engine goes on");
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable e) throws E {
        throw (E) e;
    }
}
