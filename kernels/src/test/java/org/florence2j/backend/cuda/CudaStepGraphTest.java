package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.bindings.CudaException;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaStepGraph}'s decisions, with a recording driver in place of CUDA (they run here without a GPU): warm
 * up, capture, replay; capture again when the workspace moved; start over after a reset; fall back to eager launches
 * when CUDA refuses, and propagate anything else. Also the {@value CudaBackend#GRAPHS_PROPERTY} switch.
 */
class CudaStepGraphTest {
    /** Records what the step graph asked for; its "graphs" are bytes in the arena the graph gave. */
    private static final class RecordingDriver implements CudaStepGraph.Driver {
        final List<String> calls = new ArrayList<>();
        final List<MemorySegment> graphs = new ArrayList<>();
        long generation;
        RuntimeException captureFailure;
        RuntimeException launchFailure;

        @Override
        public void warmUp(Runnable ops) {
            calls.add("warmUp");
            ops.run();
        }

        @Override
        public MemorySegment capture(Runnable ops, Arena owner) {
            calls.add("capture");
            if (captureFailure != null) {
                throw captureFailure;
            }
            MemorySegment graph = owner.allocate(1);
            graphs.add(graph);
            return graph;
        }

        @Override
        public void launch(MemorySegment graph) {
            // By identity: a freed graph's address may be reused by the next one.
            int index = 0;
            while (graphs.get(index) != graph) {
                index++;
            }
            calls.add("launch " + index);
            if (launchFailure != null) {
                throw launchFailure;
            }
        }

        @Override
        public long generation() {
            return generation;
        }

        @Override
        public void bindForRelease() {
            calls.add("bind");
        }
    }

    private final RecordingDriver driver = new RecordingDriver();
    private final CudaStepGraph graph = new CudaStepGraph(driver);
    private int opsRuns;
    private final Runnable ops = () -> opsRuns++;

    @Test
    void warmsUpThenCapturesOnceThenReplays() {
        for (int step = 0; step < 4; step++) {
            graph.run(0, ops);
        }
        assertEquals(List.of("warmUp", "capture", "launch 0", "launch 0", "launch 0"), driver.calls);
        assertEquals(1, opsRuns, "only the warm-up runs the ops; captures and replays do not");
    }

    @Test
    void variantsAreCapturedApart() {
        graph.run(0, ops);
        graph.run(1, ops);
        graph.run(1, ops);
        graph.run(0, ops);
        graph.run(1, ops);
        assertEquals(List.of("warmUp", "warmUp", "capture", "launch 0", "capture", "launch 1", "launch 0"),
                driver.calls);
    }

    @Test
    void aMovedWorkspaceMeansCapturingAgainWithoutWarmingUp() {
        graph.run(0, ops);
        graph.run(0, ops);
        driver.generation++;
        graph.run(0, ops);
        graph.run(0, ops);
        assertEquals(List.of("warmUp", "capture", "launch 0", "capture", "launch 1", "launch 1"), driver.calls);
        assertFalse(driver.graphs.get(0).scope().isAlive(), "the stale graph is freed");
        assertTrue(driver.graphs.get(1).scope().isAlive());
    }

    @Test
    void resetFreesEveryGraphAndWarmsUpAgain() {
        graph.run(0, ops);
        graph.run(0, ops);
        graph.reset();
        assertFalse(driver.graphs.get(0).scope().isAlive());
        graph.run(0, ops);
        graph.run(0, ops);
        assertEquals(List.of("warmUp", "capture", "launch 0", "bind", "warmUp", "capture", "launch 1"),
                driver.calls);
        graph.close();
        assertFalse(driver.graphs.get(1).scope().isAlive());
    }

    @Test
    void aCudaFailureInCaptureFallsBackToEagerForGood() {
        driver.captureFailure = new CudaException("cudaStreamEndCapture", 901, "cudaErrorStreamCaptureInvalidated");
        graph.run(0, ops);
        graph.run(0, ops);
        graph.run(0, ops);
        graph.run(1, ops);
        assertEquals(List.of("warmUp", "capture", "bind"), driver.calls);
        assertEquals(4, opsRuns, "the failed step and every later one run their ops eagerly");
    }

    @Test
    void aCudaFailureInLaunchFallsBackToEager() {
        driver.launchFailure = new CudaException("cudaGraphLaunch", 1, "cudaErrorInvalidValue");
        graph.run(0, ops);
        graph.run(0, ops);
        graph.run(0, ops);
        assertEquals(List.of("warmUp", "capture", "launch 0", "bind"), driver.calls);
        assertFalse(driver.graphs.get(0).scope().isAlive());
        assertEquals(3, opsRuns);
    }

    @Test
    void otherFailuresPropagateAndCapturingGoesOn() {
        driver.captureFailure = new IllegalArgumentException("attention: invalid arguments");
        graph.run(0, ops);
        assertThrows(IllegalArgumentException.class, () -> graph.run(0, ops));
        driver.captureFailure = null;
        graph.run(0, ops);
        assertEquals(List.of("warmUp", "capture", "capture", "launch 0"), driver.calls);
    }

    @Test
    void variantsOutsideTheRangeAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> graph.run(-1, ops));
        assertThrows(IllegalArgumentException.class, () -> graph.run(64, ops));
    }

    @Test
    void graphsPropertyIsTrueFalseOrUnset() {
        assertTrue(CudaBackend.graphsEnabled(null));
        assertTrue(CudaBackend.graphsEnabled("true"));
        assertTrue(CudaBackend.graphsEnabled("TRUE"));
        assertFalse(CudaBackend.graphsEnabled("false"));
        assertFalse(CudaBackend.graphsEnabled("False"));
        var error = assertThrows(IllegalArgumentException.class, () -> CudaBackend.graphsEnabled("off"));
        assertEquals("-Dflorence2j.cuda.graphs=off: expected true or false", error.getMessage());
    }
}
