package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.florence2j.config.EarlyStopping;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RunOptions#withEarlyStopping}, the reference's {@code generate(early_stopping=…)}: on a model where the mode
 * decides the output, each mode given per call gives the ids of a model whose config says that mode, whatever its
 * own config says, and calls with different modes never share a coalesced batch
 * ({@link TinyModelFolder#whereEarlyStoppingDecides}).
 */
class Florence2EarlyStoppingTest {
    private static final RunOptions OPTIONS = RunOptions.defaults().withNumBeams(3).withMaxNewTokens(20);
    private static final Map<EarlyStopping, int[]> BY_CONFIG = new EnumMap<>(EarlyStopping.class);
    private static Florence2Request request;

    @TempDir
    static Path dir;

    private static Florence2 load(EarlyStopping configMode, int maxCoalescedImages) {
        return Florence2.load(dir.resolve(configMode.name()).resolve("model"),
                Florence2Options.defaults().withThreads(1).withMaxCoalescedImages(maxCoalescedImages));
    }

    private static int[] ids(Florence2Result result) {
        return result.generation().generatedIds();
    }

    @BeforeAll
    static void runWithEachConfig() {
        request = Florence2Request.of(TinyModelFolder.golden().getParent().resolve("images/gradient_160x160.png"),
                Task.CAPTION);
        for (EarlyStopping mode : EarlyStopping.values()) {
            TinyModelFolder.whereEarlyStoppingDecides(dir.resolve(mode.name()), mode);
            try (Florence2 model = load(mode, 1)) {
                BY_CONFIG.put(mode, ids(model.run(request, OPTIONS)));
            }
        }
        assertFalse(Arrays.equals(BY_CONFIG.get(EarlyStopping.TRUE), BY_CONFIG.get(EarlyStopping.FALSE)),
                "early stopping does not decide this case's output: " + Arrays.toString(BY_CONFIG.get(
                        EarlyStopping.TRUE)));
    }

    @Test
    void eachModeGivenPerCallIsTheModeOfAConfigThatSaysIt() {
        for (EarlyStopping configMode : new EarlyStopping[] {EarlyStopping.TRUE, EarlyStopping.NEVER}) {
            try (Florence2 model = load(configMode, 1)) {
                assertArrayEquals(BY_CONFIG.get(configMode), ids(model.run(request, OPTIONS)), "no override");
                for (EarlyStopping mode : EarlyStopping.values()) {
                    assertArrayEquals(BY_CONFIG.get(mode), ids(model.run(request, OPTIONS.withEarlyStopping(mode))),
                            "early_stopping " + mode + " on a model whose config says " + configMode);
                }
            }
        }
    }

    @Test
    void callsWithDifferentModesDoNotShareABatch() throws Exception {
        ExecutorService callers = Executors.newCachedThreadPool();
        try (Florence2 model = load(EarlyStopping.TRUE, 4)) {
            HeldEngine.Queued<Florence2Result> asConfigured;
            HeldEngine.Queued<Florence2Result> notEarly;
            try (HeldEngine held = HeldEngine.hold(callers, model, request, OPTIONS)) {
                asConfigured = HeldEngine.queueBehind(callers, model, request, OPTIONS);
                notEarly = HeldEngine.queueBehind(callers, model, request,
                        OPTIONS.withEarlyStopping(EarlyStopping.FALSE));
                held.release();
            }
            assertArrayEquals(BY_CONFIG.get(EarlyStopping.TRUE), ids(asConfigured.result().get(60, TimeUnit.SECONDS)));
            assertArrayEquals(BY_CONFIG.get(EarlyStopping.FALSE), ids(notEarly.result().get(60, TimeUnit.SECONDS)));
            assertEquals(1, model.keptLimits().maxImages(), "the two calls ran apart");
        } finally {
            callers.shutdownNow();
        }
    }

    /** Greedy search has no hypotheses to stop early: its calls share a batch whatever mode they name. */
    @Test
    void greedyCallsThatNameDifferentModesShareABatch() throws Exception {
        RunOptions greedy = OPTIONS.greedy();
        ExecutorService callers = Executors.newCachedThreadPool();
        try (Florence2 model = load(EarlyStopping.TRUE, 4)) {
            int[] alone = ids(model.run(request, greedy));
            HeldEngine.Queued<Florence2Result> asConfigured;
            HeldEngine.Queued<Florence2Result> never;
            try (HeldEngine held = HeldEngine.hold(callers, model, request, OPTIONS)) {
                asConfigured = HeldEngine.queueBehind(callers, model, request, greedy);
                never = HeldEngine.queueBehind(callers, model, request, greedy.withEarlyStopping(EarlyStopping.NEVER));
                held.release();
            }
            assertArrayEquals(alone, ids(asConfigured.result().get(60, TimeUnit.SECONDS)));
            assertArrayEquals(alone, ids(never.result().get(60, TimeUnit.SECONDS)));
            assertEquals(2, model.keptLimits().maxImages(), "the two calls ran as one batch");
        } finally {
            callers.shutdownNow();
        }
    }
}
