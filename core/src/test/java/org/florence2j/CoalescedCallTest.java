package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.time.Duration;
import java.util.List;
import org.florence2j.config.EarlyStopping;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.model.Cancellation;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * {@link CoalescedCall}: which calls may share a batch, and {@link CoalescedCall#everyCallSettled}: a batch of
 * several calls goes on while any call in it still wants its results, and stops once each has been stopped by its
 * caller or has its outcome.
 */
class CoalescedCallTest {
    private static final GenerationOptions GREEDY = new GenerationOptions(1, 4, 0, 2, 2, 1, 0, 2, 1.0,
            EarlyStopping.TRUE, 0);

    private static CoalescedCall call(Duration timeout) {
        return new CoalescedCall(null, null, List.of(new int[] {0, 2}), GREEDY, null, new RequestControl(timeout));
    }

    private static CoalescedCall call(Tensor pixelValues, GenerationOptions generation) {
        return new CoalescedCall(pixelValues, null, List.of(new int[] {0, 2}), generation, null,
                new RequestControl(null));
    }

    @Test
    void callsShareABatchOnlyWithTheSameOptionsAndImageSize() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor square = Tensor.allocateHost(DType.F32, Shape.of(1, 3, 8, 8), arena);
            Tensor twoSquares = Tensor.allocateHost(DType.F32, Shape.of(2, 3, 8, 8), arena);
            Tensor wide = Tensor.allocateHost(DType.F32, Shape.of(1, 3, 8, 16), arena);
            Tensor tall = Tensor.allocateHost(DType.F32, Shape.of(1, 3, 16, 8), arena);
            CoalescedCall one = call(square, GREEDY);
            assertTrue(one.canShareBatchWith(call(twoSquares, GREEDY)), "images of one size, in any number");
            assertFalse(one.canShareBatchWith(call(wide, GREEDY)));
            assertFalse(one.canShareBatchWith(call(tall, GREEDY)));
            assertFalse(one.canShareBatchWith(call(square, GREEDY.withNumBeams(3))));
            assertFalse(one.canShareBatchWith(call(square, new GenerationOptions(1, 5, 0, 2, 2, 1, 0, 2, 1.0,
                    EarlyStopping.TRUE, 0))), "another number of new tokens");
        }
    }

    @Test
    void aBatchStopsOnlyOnceEveryCallIsSettled() {
        CoalescedCall stopped = call(Duration.ZERO);
        CoalescedCall running = call(null);
        CoalescedCall failed = call(null);
        CoalescedCall finished = call(null);
        assertDoesNotThrow(CoalescedCall.everyCallSettled(List.of(stopped, running))::throwIfCancelled,
                "one call stopped, one still waiting for its results");
        failed.fail(new IllegalStateException("its listener failed"));
        finished.finish(new GenerationResult[0]);
        Cancellation settled = CoalescedCall.everyCallSettled(List.of(stopped, failed, finished));
        assertThrows(RequestCancelledException.class, settled::throwIfCancelled);
        running.control().interrupt();
        assertThrows(RequestCancelledException.class,
                CoalescedCall.everyCallSettled(List.of(stopped, running))::throwIfCancelled);
    }
}
