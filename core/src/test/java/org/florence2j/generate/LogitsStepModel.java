package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A {@link StepModel} whose logits a test writes by hand; the candidates are selected from them by
 * {@link ReferenceBackend#logSoftmaxTopK}, as {@code Session} selects with its backend.
 */
abstract class LogitsStepModel implements StepModel {
    private final int vocabulary;
    private final int positions;

    /** A model with no positions to run out of. */
    LogitsStepModel(int vocabulary) {
        this(vocabulary, Integer.MAX_VALUE);
    }

    /** A model of {@code positions} positions; a step past them fails the test. */
    LogitsStepModel(int vocabulary, int positions) {
        this.vocabulary = vocabulary;
        this.positions = positions;
    }

    /** Writes the next-token logits of each row, {@code [tokens.length · vocabulary]}. */
    abstract void logits(int[] tokens, int position, float[] logits);

    @Override
    public int vocabulary() {
        return vocabulary;
    }

    @Override
    public int positions() {
        return positions;
    }

    @Override
    public void step(int[] tokens, int[] parents, int position, Candidates candidates) {
        assertTrue(position < positions, "a step at position " + position + " of a model of " + positions);
        int rows = candidates.rows();
        int k = candidates.k();
        float[] logits = new float[rows * vocabulary];
        logits(tokens, position, logits);
        try (Arena arena = Arena.ofConfined(); ReferenceBackend reference = new ReferenceBackend()) {
            Tensor bans = !candidates.banning() ? null : Tensor.ofInts(Shape.of(rows, candidates.banWidth()), arena,
                    Arrays.copyOf(candidates.bannedTokens(), rows * candidates.banWidth()));
            Tensor offsets = !candidates.offsetting() ? null : Tensor.ofFloats(Shape.of(rows), arena,
                    Arrays.copyOf(candidates.scoreOffsets(), rows));
            Tensor scores = Tensor.allocateHost(DType.F32, Shape.of(rows, k), arena);
            Tensor ids = Tensor.allocateHost(DType.I32, Shape.of(rows, k), arena);
            Tensor logProbs = Tensor.allocateHost(DType.F32, Shape.of(rows, k), arena);
            Tensor logSumExp = Tensor.allocateHost(DType.F32, Shape.of(rows), arena);
            reference.logSoftmaxTopK(scores, ids, logProbs, logSumExp,
                    Tensor.ofFloats(Shape.of(rows, vocabulary), arena, logits), bans, candidates.forcedToken(),
                    offsets);
            System.arraycopy(scores.toFloatArray(), 0, candidates.scores(), 0, rows * k);
            System.arraycopy(logProbs.toFloatArray(), 0, candidates.logProbs(), 0, rows * k);
            System.arraycopy(logSumExp.toFloatArray(), 0, candidates.logSumExp(), 0, rows);
            long[] chosen = ids.toLongArray();
            for (int i = 0; i < chosen.length; i++) {
                candidates.tokens()[i] = (int) chosen[i];
            }
        }
    }
}
