package org.florence2j;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.florence2j.tensor.Device;

/**
 * One model's handle on its device's engine thread: the platform thread, one per device and process at a time, on
 * which every {@link Florence2} model on that device makes its backend calls (opening the backend and loading the
 * weights, every request's encode and decode, and closing).
 *
 * <p>Why one thread: oneDNN's OpenMP runtime (libgomp) keeps a pool of worker threads for each thread that starts a
 * parallel region, and once the process holds more pool threads than it has cores, idle workers spin 100 times
 * instead of ~3 ms before they sleep (its throttled spin count), so that every later parallel region must wake them.
 * On two cores, a base bf16 {@code <CAPTION>} of 128 tokens took 1.30–1.36× as long when the model was run from
 * another thread than the one that loaded it, as a service's request threads do (a 3-row 768×768 bf16 product 63–65
 * µs instead of 28), and 1.21–1.23× as long while a second model, with an engine thread of its own, was loaded.
 * Callers hand their engine work over and wait: requests run one at a time per device, in arrival order (each op
 * uses every core anyway; a model that coalesces calls runs later ones in an earlier one's batch), and image
 * decoding, tokenizing and post-processing stay on the callers' threads. A request's caller can give it up
 * ({@link RequestControl}); loading and closing always run to their end.
 */
final class EngineThread implements AutoCloseable {
    /**
     * An engine thread idle this long ends, and its OpenMP workers with it (libgomp frees a thread's pool when the
     * thread exits); the next request starts another, which costs its first op a team start.
     */
    private static final long IDLE_SECONDS = 60;
    private static final Map<Device, ExecutorService> ENGINES = new ConcurrentHashMap<>();
    private static final ThreadLocal<Boolean> ON_ENGINE = ThreadLocal.withInitial(() -> false);

    private final String owner;
    private final ExecutorService executor;
    private volatile boolean closed;

    private EngineThread(String owner, ExecutorService executor) {
        this.owner = owner;
        this.executor = executor;
    }

    /**
     * A handle on {@code device}'s engine thread, started on first use and after {@link #IDLE_SECONDS} without work
     * (a daemon: it never keeps the JVM alive); {@code owner} names the model in error messages.
     */
    static EngineThread of(Device device, String owner) {
        return new EngineThread(owner, ENGINES.computeIfAbsent(device, EngineThread::start));
    }

    private static ExecutorService start(Device device) {
        ThreadPoolExecutor executor = new ThreadPoolExecutor(1, 1, IDLE_SECONDS, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), runnable -> {
                    Thread thread = new Thread(() -> {
                        ON_ENGINE.set(true);
                        runnable.run();
                    }, "florence2j-engine-" + device);
                    thread.setDaemon(true);
                    return thread;
                });
        executor.allowCoreThreadTimeOut(true);
        return executor;
    }

    /**
     * Runs {@code work} on the engine thread after the work handed over before it, and returns its result. Its
     * exception is rethrown as it is (the engine thread's stack trace shows where it failed). Waits until the work
     * is done even when the calling thread is interrupted, and then keeps the interrupt: loading and closing always
     * run to their end.
     *
     * @throws IllegalStateException after {@link #close}, or on an engine thread ({@link #requireOtherThread})
     */
    <T> T call(Supplier<T> work) {
        return call(work, null);
    }

    /**
     * Runs a request's {@code work} on the engine thread after the work handed over before it, and returns its result,
     * unless {@code control} stops it first: when the calling thread is interrupted or the request's timeout passes
     * while the work still waits in the queue, the work never starts and this throws at once; once it runs, this
     * waits for it to end (it may be using the caller's buffers), and the work ends at its next check of
     * {@code control}. An interrupt is kept in the caller's status either way.
     *
     * @param control {@code null} for work that cannot be given up
     * @throws RequestCancelledException when the request was given up, before it started or at one of its checks
     * @throws IllegalStateException     after {@link #close}, or on an engine thread ({@link #requireOtherThread})
     */
    <T> T call(Supplier<T> work, RequestControl control) {
        requireOpen();
        if (control != null) {
            // Here, not only in the wait below, so that a request stopped before this call is never handed over.
            control.throwIfCallerStopped();
        }
        Future<T> result = executor.submit(() -> control == null || control.start() ? work.get() : null);
        boolean interrupted = false;
        // Set once the work cannot be given up: then it is waited for, however long it takes to stop.
        boolean running = control == null;
        try {
            while (true) {
                try {
                    long left = running ? Long.MAX_VALUE : control.nanosLeft();
                    return left == Long.MAX_VALUE ? result.get() : result.get(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                    if (control != null) {
                        control.interrupt();
                        running = giveUp(control);
                    }
                } catch (TimeoutException e) {
                    running = giveUp(control);
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
     * Hands {@code work} to the engine thread, after the work handed over before it, and returns at once: for a
     * request whose caller waits for a result of its own ({@link CoalescedCall}). {@code work} must not throw: what
     * it throws is lost.
     *
     * @throws IllegalStateException after {@link #close}, or on an engine thread ({@link #requireOtherThread})
     */
    void submit(Runnable work) {
        requireOpen();
        executor.execute(work);
    }

    /** Gives up a request that has not started, throwing why; true when it runs and has to be waited for. */
    private static boolean giveUp(RequestControl control) {
        if (control.abandon()) {
            throw control.stopped();
        }
        return true;
    }

    /**
     * Throws when called from an engine thread, which could end up waiting for itself.
     *
     * @throws IllegalStateException on an engine thread (e.g. in a token listener: the request it listens to holds
     *                               the engine)
     */
    void requireOtherThread() {
        requireOtherThread(owner);
    }

    /** {@link #requireOtherThread()} before a handle exists ({@code owner} names the model). */
    static void requireOtherThread(String owner) {
        if (ON_ENGINE.get()) {
            throw new IllegalStateException(owner + " called from an engine thread (a token listener cannot use"
                    + " a model)");
        }
    }

    /**
     * Throws when this handle is closed, or when called from an engine thread ({@link #requireOtherThread}); a
     * caller checks it before work of its own that only the engine's work would use.
     *
     * @throws IllegalStateException after {@link #close}, or on an engine thread
     */
    void requireOpen() {
        requireOtherThread();
        if (closed) {
            throw new IllegalStateException(owner + " used after close()");
        }
    }

    /** Whether {@link #close} has run. */
    boolean isClosed() {
        return closed;
    }

    /** Makes this handle's later {@link #call}s throw; the device's engine thread goes on serving other models. */
    @Override
    public void close() {
        closed = true;
    }

    /** {@code cause}, an engine work's failure, as the exception its caller throws. */
    RuntimeException rethrown(Throwable cause) {
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new IllegalStateException(owner + ": engine work failed", cause);
    }
}
