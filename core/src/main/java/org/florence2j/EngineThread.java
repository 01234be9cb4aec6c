package org.florence2j;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * The one platform thread on which a {@link Florence2} model makes every backend call: opening the backend and
 * loading the weights, every request's encode and decode, and closing.
 *
 * <p>Why one thread: oneDNN's OpenMP runtime (libgomp) keeps a pool of worker threads for each thread that starts a
 * parallel region, and once the process holds more pool threads than it has cores, idle workers spin 100 times
 * instead of ~3 ms before they sleep (its throttled spin count), so that every later parallel region must wake them.
 * A model loaded on one thread and run on another, as a service's request threads do, took 1.30–1.36× as long per
 * base bf16 {@code <CAPTION>} of 128 tokens on two cores (a 3-row 768×768 bf16 product 63–65 µs instead of 28).
 * Callers hand their engine work over and wait: requests still run one at a time, in arrival order, and image
 * decoding, tokenizing and post-processing stay on the callers' threads.
 */
final class EngineThread implements AutoCloseable {
    private final String owner;
    private final ExecutorService executor;
    private volatile Thread thread;

    /** Starts the thread; {@code owner} names what it serves in error messages. */
    EngineThread(String owner) {
        this.owner = owner;
        this.executor = Executors.newSingleThreadExecutor(runnable -> {
            Thread created = new Thread(runnable, "florence2j-engine");
            // A model the caller forgets to close must not keep the JVM alive.
            created.setDaemon(true);
            thread = created;
            return created;
        });
    }

    /**
     * Runs {@code work} on the engine thread after the work handed over before it, and returns its result. Its
     * exception is rethrown as it is (the engine thread's stack trace shows where it failed). Waits until the work
     * is done even when the calling thread is interrupted, and then keeps the interrupt: the work may be using the
     * caller's buffers until it ends.
     *
     * @throws IllegalStateException after {@link #close}, or on the engine thread ({@link #requireOtherThread})
     */
    <T> T call(Supplier<T> work) {
        requireOtherThread();
        Future<T> result;
        try {
            result = executor.submit(work::get);
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException(owner + " used after close()", e);
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return result.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    throw rethrown(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Throws unless called from a thread other than the engine thread, which would wait for itself.
     *
     * @throws IllegalStateException on the engine thread (e.g. in a token listener: the request it listens to holds
     *                               the engine)
     */
    void requireOtherThread() {
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException(owner + " called from its own engine thread (a token listener cannot use"
                    + " the model it listens to)");
        }
    }

    /** Whether {@link #close} has run. */
    boolean isClosed() {
        return executor.isShutdown();
    }

    /**
     * Lets the work handed over so far finish, then ends the thread; later {@link #call}s throw.
     *
     * @throws IllegalStateException on the engine thread
     */
    @Override
    public void close() {
        requireOtherThread();
        executor.close();
    }

    private RuntimeException rethrown(Throwable cause) {
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new IllegalStateException(owner + ": engine work failed", cause);
    }
}
