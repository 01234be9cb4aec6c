package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A greedy request that holds its model's engine until {@link #release}: its listener waits at the first token, so
 * that a test knows what runs while it queues, gives up or refuses other requests. {@link #close} releases it too.
 */
final class HeldEngine implements AutoCloseable {
    private final CountDownLatch release = new CountDownLatch(1);
    private final Future<Florence2Result> result;

    private HeldEngine(ExecutorService callers, Florence2 model, Florence2Request request, RunOptions options)
            throws InterruptedException {
        CountDownLatch held = new CountDownLatch(1);
        result = callers.submit(() -> model.run(request, options.greedy().withListener((image, id, piece) -> {
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        })));
        if (!held.await(60, TimeUnit.SECONDS)) {
            release.countDown(); // a listener reached later must not hold the engine for the tests after this one
            throw new AssertionError("the holding request never reached the engine");
        }
    }

    /** Runs {@code request} on one of {@code callers} and returns once it holds the engine. */
    static HeldEngine hold(ExecutorService callers, Florence2 model, Florence2Request request, RunOptions options)
            throws InterruptedException {
        return new HeldEngine(callers, model, request, options);
    }

    /**
     * Runs {@code request} on one of {@code callers} and returns once its thread waits for the engine (parked on its
     * engine work's future, or on its results where the model coalesces calls, behind the held request), with that
     * thread.
     */
    static Queued<Florence2Result> queueBehind(ExecutorService callers, Florence2 model, Florence2Request request,
            RunOptions options) throws InterruptedException {
        return waitBehind(callers, () -> model.run(request, options));
    }

    /** {@link #queueBehind} for a {@link Florence2#runBatch} of {@code requests}. */
    static Queued<List<Florence2Result>> queueBatchBehind(ExecutorService callers, Florence2 model,
            List<Florence2Request> requests, RunOptions options) throws InterruptedException {
        return waitBehind(callers, () -> model.runBatch(requests, options));
    }

    private static <T> Queued<T> waitBehind(ExecutorService callers, Callable<T> call) throws InterruptedException {
        AtomicReference<Thread> thread = new AtomicReference<>();
        Future<T> result = callers.submit(() -> {
            thread.set(Thread.currentThread());
            return call.call();
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (thread.get() == null || !waitsForTheEngine(LockSupport.getBlocker(thread.get()))) {
            assertFalse(result.isDone(), "the queued request ended instead of waiting for the engine");
            assertTrue(System.nanoTime() < deadline, "the queued request never waited for the engine");
            Thread.sleep(5);
        }
        return new Queued<>(thread.get(), result);
    }

    /** A {@link FutureTask} (engine work) or a {@link CompletableFuture}'s waiter (a coalesced call's results). */
    private static boolean waitsForTheEngine(Object blocker) {
        return blocker instanceof FutureTask
                || blocker != null && blocker.getClass().getName().startsWith(CompletableFuture.class.getName());
    }

    /** A request waiting for the engine, and the thread that waits. */
    record Queued<T>(Thread thread, Future<T> result) {}

    /** Whether the request still holds the engine: not released, and not ended some other way. */
    boolean holds() {
        return release.getCount() == 1 && !result.isDone();
    }

    /** Lets the request go on, and returns its result. */
    Florence2Result release() throws InterruptedException, ExecutionException, TimeoutException {
        release.countDown();
        return result.get(60, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        release.countDown();
    }
}
