package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code max_new_tokens} past the decoder's learned positions, as the reference's {@code generate()} takes it (a
 * warning, then a position embedding that fails only at a step past its table): a request whose outputs end in time
 * returns them, with the model's buffers sized for the positions, not the tokens asked; one that would need a later
 * position fails with an {@link InvalidInputException} naming the positions and the request, after running to them,
 * and leaves the model usable. Greedy and beam search, one image or a batch; on the CPU and CUDA.
 */
class Florence2PositionsTest {
    private static final int EOS = 2;
    private static final int POSITIONS = 32;

    @TempDir
    Path dir;

    private static Florence2Request request(String image) {
        return Florence2Request.of(TinyModelFolder.golden().getParent().resolve("images/" + image + ".png"),
                Task.CAPTION);
    }

    private static int[] ids(Florence2Result result) {
        return result.generation().generatedIds();
    }

    /** The tiny model (1024 positions) with EOS raised, so that every output ends at once. */
    @Test
    void outputsThatEndInTimeComeBackAndTheBuffersHoldOnlyThePositions() {
        Path folder = TinyModelFolder.in(dir).addToLogitsBias(EOS, 60f).path();
        List<Florence2Request> both = List.of(request("gradient_160x160"), request("noise_173x97"));
        try (Florence2 model = Florence2.load(folder, Florence2Options.defaults().withThreads(1))) {
            for (RunOptions options : new RunOptions[] {RunOptions.defaults().greedy(), RunOptions.defaults()}) {
                int[] within = ids(model.run(both.getFirst(), options.withMaxNewTokens(20)));
                assertArrayEquals(new int[] {2, 0, 2}, within);
                assertArrayEquals(within, ids(model.run(both.getFirst(), options.withMaxNewTokens(1025))));
                List<Florence2Result> batch = model.runBatch(both, options.withMaxNewTokens(5000));
                assertArrayEquals(within, ids(batch.get(0)));
                assertArrayEquals(within, ids(batch.get(1)));
            }
            assertEquals(1024, model.keptLimits().maxNewTokens(), "room for the decoder's positions");
        }
    }

    /** Calls that could run past the positions run alone: a failure of one would otherwise end the others too. */
    @Test
    void callsThatCouldRunPastThePositionsAreNotCoalesced() throws Exception {
        Path folder = TinyModelFolder.in(dir).addToLogitsBias(EOS, 60f).path();
        ExecutorService callers = Executors.newCachedThreadPool();
        try (Florence2 model = Florence2.load(folder,
                Florence2Options.defaults().withThreads(1).withMaxCoalescedImages(4))) {
            RunOptions past = RunOptions.defaults().withMaxNewTokens(1025);
            List<HeldEngine.Queued<Florence2Result>> queued = new ArrayList<>();
            try (HeldEngine held = HeldEngine.hold(callers, model, request("small_37x29"), past)) {
                queued.add(HeldEngine.queueBehind(callers, model, request("gradient_160x160"), past));
                queued.add(HeldEngine.queueBehind(callers, model, request("noise_173x97"), past));
                held.release();
            }
            for (HeldEngine.Queued<Florence2Result> call : queued) {
                assertArrayEquals(new int[] {2, 0, 2}, ids(call.result().get(60, TimeUnit.SECONDS)));
            }
            assertEquals(1, model.keptLimits().maxImages(), "the calls ran alone");
        } finally {
            callers.shutdownNow();
        }
    }

    /** The tiny model cut to 32 positions with EOS lowered, so that no output ends before max_length. */
    @ParameterizedTest
    @ValueSource(strings = {"cpu", "cuda"})
    void anOutputThatDoesNotEndInTimeFailsOnceItReachesThePositions(String device) {
        Path folder = TinyModelFolder.in(dir).withPositions(POSITIONS).addToLogitsBias(EOS, -60f).path();
        try (Florence2 model = device.equals("cpu") ? Florence2.load(folder, Florence2Options.defaults()
                .withThreads(1)) : CudaModels.loadOrAbort(folder)) {
            Florence2Request caption = request("gradient_160x160");
            List<Integer> heard = new ArrayList<>();
            var greedy = assertThrows(InvalidInputException.class, () -> model.run(caption, RunOptions.defaults()
                    .greedy().withMaxNewTokens(POSITIONS + 1).withListener((image, id, piece) -> heard.add(id))));
            assertEquals("generation ran out of the decoder's 32 learned positions: after 32 new tokens the image had"
                    + " not ended, and max_new_tokens 33 allows more, but the model has no position for the next"
                    + " token (the reference's position embedding fails there too); ask for at most 32 new tokens",
                    greedy.getMessage());
            assertEquals(POSITIONS, heard.size(), "tokens generated before the positions ran out");
            var beams = assertThrows(InvalidInputException.class, () -> model.runBatch(
                    List.of(caption, request("noise_173x97")), RunOptions.defaults().withMaxNewTokens(1_000_000)));
            assertTrue(beams.getMessage().contains("images 0, 1 of 2 had not ended, and max_new_tokens 1000000"),
                    beams.getMessage());
            assertEquals(POSITIONS, model.keptLimits().maxNewTokens(), "room for the decoder's positions");
            int[] forcedEnd = ids(model.run(caption, RunOptions.defaults().withMaxNewTokens(POSITIONS)));
            assertEquals(POSITIONS + 1, forcedEnd.length, "max_new_tokens equal to the positions runs to them");
            assertEquals(EOS, forcedEnd[POSITIONS], "and ends with the forced EOS");
        }
    }
}
