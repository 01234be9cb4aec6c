package org.florence2j;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.model.Cancellation;
import org.florence2j.tensor.Tensor;

/**
 * One call's engine work on a model that coalesces calls ({@link Florence2Options#maxCoalescedImages}): its images'
 * pixel values and prompts while it waits for the engine, and where the engine leaves its results. The engine runs it
 * alone or in one batch with other calls waiting at the same time; its caller waits in {@link #await}, and may give
 * it up as {@link EngineThread#call} lets a request be given up.
 */
final class CoalescedCall {
    private final Tensor pixelValues; // [images, 3, height, width]
    private final Arena pixels; // owns pixelValues; closed by the engine once it has read them
    private final List<int[]> inputIds;
    private final GenerationOptions generation;
    private final RequestControl control;
    private final TokenListener listener; // or null
    private final CompletableFuture<GenerationResult[]> results = new CompletableFuture<>();
    // Completes once the engine reads nothing of this call's any more: from then on its caller may leave.
    private final CompletableFuture<Void> released = new CompletableFuture<>();

    CoalescedCall(Tensor pixelValues, Arena pixels, List<int[]> inputIds, GenerationOptions generation,
            TokenListener listener, RequestControl control) {
        this.pixelValues = pixelValues;
        this.pixels = pixels;
        this.inputIds = List.copyOf(inputIds);
        this.generation = generation;
        this.listener = listener;
        this.control = control;
    }

    Tensor pixelValues() {
        return pixelValues;
    }

    Arena pixels() {
        return pixels;
    }

    List<int[]> inputIds() {
        return inputIds;
    }

    GenerationOptions generation() {
        return generation;
    }

    RequestControl control() {
        return control;
    }

    TokenListener listener() {
        return listener;
    }

    int images() {
        return inputIds.size();
    }

    /** Whether {@code other} can run in one batch with this call: the same generation options and image size. */
    boolean canShareBatchWith(CoalescedCall other) {
        return generation.equals(other.generation)
                && pixelValues.shape().dim(2) == other.pixelValues.shape().dim(2)
                && pixelValues.shape().dim(3) == other.pixelValues.shape().dim(3);
    }

    /**
     * Engine side, in a batch of several calls: hands this call's listener its {@code image}'s token and its text
     * ({@code pieces}), unless the call has stopped or ended ({@link #settled}), as a call running alone would have
     * stopped before it. A listener that throws ends its own call with that failure, at once, and the batch goes on
     * for the others. Holds this call's lock while the listener runs, so that a caller who stops waits for a token
     * in flight ({@link #await}): after its call returns, its listener is not called again.
     */
    void deliver(int image, int tokenId, IntFunction<String> pieces) {
        if (listener == null) {
            return;
        }
        synchronized (this) {
            if (settled()) {
                return;
            }
            try {
                listener.onToken(image, tokenId, pieces.apply(tokenId));
            } catch (Throwable e) { // a checked exception too (another JVM language's, a sneaky throw)
                fail(e);
            }
        }
    }

    /**
     * Engine side: whether the batch need not go on for this call: its caller stopped it, or it already has its
     * outcome (its listener failed).
     */
    boolean settled() {
        return results.isDone() || control.cancelled();
    }

    /**
     * Stops a batch of several calls once it goes on for none of them: every call in it is {@link #settled}. A call
     * stopped by its caller does not stop the others.
     */
    static Cancellation everyCallSettled(List<CoalescedCall> batch) {
        return () -> {
            for (int i = 0; i < batch.size(); i++) { // by index: checked every decoder step, it must not allocate
                if (!batch.get(i).settled()) {
                    return;
                }
            }
            throw new RequestCancelledException("every call in the batch stopped");
        };
    }

    /** Engine side: hands the caller its results; it may leave. */
    void finish(GenerationResult[] callResults) {
        results.complete(callResults);
        released.complete(null);
    }

    /**
     * Engine side: hands the caller the failure of the work that ran this call (unless it already has an outcome);
     * it may leave.
     */
    void fail(Throwable failure) {
        results.completeExceptionally(failure);
        released.complete(null);
    }

    /**
     * Engine side: the engine no longer reads this call's inputs (its pixels were copied into a batch), so its
     * caller, when it stops, may leave while the batch goes on.
     */
    void release() {
        released.complete(null);
    }

    /**
     * Caller side: waits for the results. When the calling thread is interrupted or the timeout passes, a call the
     * engine has not started is given up at once; one it runs is waited for until the engine no longer reads its
     * inputs: alone, to its end, which comes at the run's next check of the control; in a batch with other calls,
     * until its pixels were copied and a token its listener is being handed has been, and then this throws while the
     * batch goes on for the others. An interrupt is kept in the caller's status either way.
     *
     * @throws RequestCancelledException when the call was given up, before it started or while it ran
     */
    GenerationResult[] await(EngineThread engine) {
        boolean interrupted = false;
        try {
            long left = control.nanosLeft();
            return left == Long.MAX_VALUE ? results.get() : results.get(left, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
            control.interrupt();
            return giveUp(engine);
        } catch (TimeoutException e) {
            return giveUp(engine);
        } catch (ExecutionException e) {
            throw engine.rethrown(e.getCause());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private GenerationResult[] giveUp(EngineThread engine) {
        if (control.abandon()) {
            throw control.stopped();
        }
        released.join(); // uninterruptible: the engine may still be reading the caller's pixels
        if (!results.isDone()) {
            RequestCancelledException stopped = control.stopped();
            // Waits out a token being delivered; the control now reads as stopped, so no other one follows.
            synchronized (this) {
                throw stopped;
            }
        }
        try {
            return results.join();
        } catch (CompletionException e) {
            throw engine.rethrown(e.getCause());
        }
    }
}
