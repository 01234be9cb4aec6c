package org.florence2j;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.florence2j.model.Cancellation;

/**
 * One request's stop conditions, shared by its calling thread and the engine thread: the caller's interrupt and the
 * request's timeout, counted from the call. The engine's work checks them at its stopping points; the caller gives
 * up a request the engine has not started yet without waiting for the requests queued before it, which is safe
 * only because the engine then never starts it ({@link #start} and {@link #abandon} decide that once).
 */
final class RequestControl implements Cancellation {
    private static final int QUEUED = 0;
    private static final int RUNNING = 1;
    private static final int ABANDONED = 2;

    private final long startNanos = System.nanoTime();
    private final long timeoutNanos; // Long.MAX_VALUE: no timeout
    private final AtomicInteger state = new AtomicInteger(QUEUED);
    private volatile boolean interrupted;

    /** Controls a request made now that may run for {@code timeout} at most ({@code null}: no limit). */
    RequestControl(Duration timeout) {
        // Past ~292 years a Duration's nanoseconds overflow a long: such a timeout never passes.
        this.timeoutNanos = timeout == null || timeout.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0
                ? Long.MAX_VALUE : timeout.toNanos();
    }

    /** Engine side: claims the request to run it; false when its caller has given it up. */
    boolean start() {
        return state.compareAndSet(QUEUED, RUNNING);
    }

    /** Caller side: gives the request up if the engine has not started it; true when it never will. */
    boolean abandon() {
        return state.compareAndSet(QUEUED, ABANDONED);
    }

    /** Caller side: the calling thread was interrupted; the work stops at its next check. */
    void interrupt() {
        interrupted = true;
    }

    /**
     * Nanoseconds until the timeout; {@link Long#MAX_VALUE} without one (or one too long to pass), 0 or less once it
     * has passed.
     */
    long nanosLeft() {
        return timeoutNanos == Long.MAX_VALUE ? Long.MAX_VALUE : timeoutNanos - (System.nanoTime() - startNanos);
    }

    /**
     * Caller side, before the request is handed to the engine (between decoding its images, say): throws when the
     * calling thread has been interrupted (its status stays set) or the timeout has passed.
     */
    void throwIfCallerStopped() {
        if (Thread.currentThread().isInterrupted()) {
            interrupted = true;
        }
        throwIfCancelled();
    }

    @Override
    public void throwIfCancelled() {
        if (cancelled()) {
            throw stopped();
        }
    }

    /** Whether the caller's thread was interrupted or the timeout has passed; never throws. */
    boolean cancelled() {
        return interrupted || nanosLeft() <= 0;
    }

    /** The exception that reports why the request stopped: its caller's interrupt, or else its timeout. */
    RequestCancelledException stopped() {
        String where = state.get() == RUNNING ? "while it ran" : "before the engine started it";
        if (interrupted) {
            return new RequestCancelledException("request cancelled " + where + ": its calling thread was"
                    + " interrupted");
        }
        return new RequestTimeoutException(String.format(Locale.ROOT, "request stopped %s: its timeout of %s passed"
                + " (%.1f ms after the call)", where, millis(timeoutNanos), (System.nanoTime() - startNanos) / 1e6));
    }

    private static String millis(long nanos) {
        return String.format(Locale.ROOT, nanos % 1_000_000 == 0 ? "%.0f ms" : "%.3f ms", nanos / 1e6);
    }
}
