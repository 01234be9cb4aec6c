package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.florence2j.backend.StepGraph;
import org.florence2j.backend.StepParameters;
import org.florence2j.backend.Tolerance;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A decode step's parameter-reading ops on {@link CudaBackend} against {@code ReferenceBackend}'s int forms, position
 * after position with changing beam parents: issued eagerly with the step kernels (whole-cache attention, device-held
 * position and parents), and captured once as a CUDA graph then replayed. Without a GPU every case aborts with the
 * reason.
 */
class CudaDecodeStepTest {
    private static final int ROWS = 3;
    private static final int CAPACITY = 9;
    private static final int CHANNELS = 16;
    private static final int HEADS = 4;
    private static final int VOCABULARY = 11;
    private static final float SCALE = 0.5f;

    @Test
    void stepKernelsMatchTheReferenceAtEveryPosition() {
        try (var t = new CudaVsReference(21)) {
            Step step = new Step(t);
            for (int position = 0; position < CAPACITY; position++) {
                step.set(position);
                t.cuda.runStepKernels(step::issueOnCuda);
                step.issueOnReference();
                step.compare("position " + position);
            }
        }
    }

    @Test
    void aCapturedStepReplaysWithEachTokensParameters() {
        try (var t = new CudaVsReference(22, true)) {
            Step step = new Step(t);
            long launches = t.cuda.stepGraphLaunches();
            try (StepGraph graph = t.cuda.newStepGraph()) {
                for (int position = 0; position < CAPACITY; position++) {
                    step.set(position);
                    graph.run(0, step::issueOnCuda);
                    step.issueOnReference();
                    step.compare("replay at position " + position);
                }
            }
            assertEquals(CAPACITY - 1, t.cuda.stepGraphLaunches() - launches,
                    "the first step warms up, the second is captured, and each from then on is one graph launch");
        }
    }

    /**
     * One step's tensors on both backends: embed the step's token, reorder the cache from a previous buffer by the
     * parents, append this token's K at the position, attend over the cache (K = V).
     */
    private static final class Step {
        private final CudaVsReference t;
        private final StepParameters hostStep;
        private final StepParameters deviceStep;
        private final Tensor table; // [VOCABULARY, CHANNELS]
        private final Tensor previous; // [ROWS, CAPACITY, CHANNELS]
        private final Tensor cache;
        private final Tensor x; // [ROWS, 1, CHANNELS]
        private final Tensor out;
        private final Tensor deviceTable;
        private final Tensor devicePrevious;
        private final Tensor deviceCache;
        private final Tensor deviceX;
        private final Tensor deviceK; // fixed addresses, rewritten per step with cuda.write
        private final Tensor deviceQ;
        private final Tensor deviceOut;
        private Tensor k;
        private Tensor q;

        Step(CudaVsReference t) {
            this.t = t;
            hostStep = StepParameters.allocate(t.reference, t.arena, ROWS, 1, CAPACITY, 2, VOCABULARY);
            deviceStep = StepParameters.allocate(t.cuda, t.arena, ROWS, 1, CAPACITY, 2, VOCABULARY);
            table = t.random(1f, VOCABULARY, CHANNELS);
            previous = t.random(1f, ROWS, CAPACITY, CHANNELS);
            cache = Tensor.allocateHost(DType.F32, Shape.of(ROWS, CAPACITY, CHANNELS), t.arena);
            x = Tensor.allocateHost(DType.F32, Shape.of(ROWS, 1, CHANNELS), t.arena);
            out = Tensor.allocateHost(DType.F32, Shape.of(ROWS, 1, CHANNELS), t.arena);
            deviceTable = t.cuda.upload(table, DType.F32, t.arena);
            devicePrevious = t.cuda.upload(previous, DType.F32, t.arena);
            deviceCache = t.cuda.allocate(DType.F32, cache.shape(), t.arena);
            deviceX = t.cuda.allocate(DType.F32, x.shape(), t.arena);
            deviceK = t.cuda.allocate(DType.F32, x.shape(), t.arena);
            deviceQ = t.cuda.allocate(DType.F32, x.shape(), t.arena);
            deviceOut = t.cuda.allocate(DType.F32, x.shape(), t.arena);
        }

        /** New token, K, Q and parents for {@code position}, set on both and sent to the device. */
        void set(int position) {
            k = t.random(1f, ROWS, 1, CHANNELS);
            q = t.random(1f, ROWS, 1, CHANNELS);
            int[] parents = {(position + 1) % ROWS, 0, position % ROWS};
            for (StepParameters step : new StepParameters[] {hostStep, deviceStep}) {
                step.setPosition(position);
                step.setParents(parents);
                for (int r = 0; r < ROWS; r++) {
                    step.setToken(r, 0, (position * ROWS + r) % VOCABULARY);
                }
            }
            t.cuda.write(deviceK, k);
            t.cuda.write(deviceQ, q);
            deviceStep.upload(t.cuda);
        }

        void issueOnCuda() {
            t.cuda.embedding(deviceX, deviceTable, deviceStep.tokenIds());
            t.cuda.gatherRows(deviceCache, devicePrevious, deviceStep);
            t.cuda.writeRows(deviceCache, deviceK, deviceStep);
            t.cuda.attention(deviceOut, deviceQ, deviceCache, deviceCache, deviceStep, HEADS, SCALE);
        }

        void issueOnReference() {
            t.reference.embedding(x, table, hostStep.tokenIds());
            t.reference.gatherRows(cache, previous, hostStep);
            t.reference.writeRows(cache, k, hostStep);
            t.reference.attention(out, q, cache, cache, hostStep, HEADS, SCALE);
        }

        void compare(String what) {
            for (Tensor[] pair : new Tensor[][] {{x, deviceX}, {cache, deviceCache}, {out, deviceOut}}) {
                Tensor actual = Tensor.allocateHost(DType.F32, pair[0].shape(), t.arena);
                t.cuda.download(pair[1], actual);
                Tolerance.KERNEL_F32.assertClose(what + " " + pair[0].shape(), pair[0], actual);
            }
        }
    }
}
