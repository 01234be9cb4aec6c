package org.florence2j.backend;

/**
 * Runs a repeated sequence of ops, issued by a callback (a decode step, a vision tower pass), either as they are
 * issued or by replaying a graph captured from an earlier call (CUDA graphs: a step's few hundred launches, or a
 * pass's thousand and more, become one). What a backend returns from {@link Backend#newStepGraph}; host backends run
 * the ops as they come ({@link #eager()}).
 *
 * <p>The contract that makes replaying correct: for a given {@code variant}, until {@link #reset}, the ops issue the
 * same operations on the same tensors every call, and everything that differs from one call to the next is either
 * written into those tensors before {@link #run} (a pass's input pixels) or reaches the ops through
 * {@link StepParameters} (uploaded before {@link #run}) and the ops that read it from device memory:
 * {@code embedding} of its {@linkplain StepParameters#tokenIds() token ids} and
 * {@linkplain StepParameters#positionIds() position ids}, and {@code writeRows}, {@code attention} and
 * {@code gatherRows} given the parameters. The ops must not read device data back to the host (no taps), and
 * nothing they check on the host runs on a replay.
 */
public interface StepGraph extends AutoCloseable {
    /** Variants are {@code 0 ≤ variant < VARIANTS}. */
    int VARIANTS = 64;

    /** Runs every step's ops as they are issued. */
    static StepGraph eager() {
        return EagerStepGraph.INSTANCE;
    }

    /**
     * Issues one run: {@code ops.run()}, or a replay of what it issued when last captured under {@code variant}.
     *
     * @param variant which of the caller's op sequences this is (e.g. with or without a beam reorder)
     * @throws IllegalArgumentException if {@code variant} is outside {@code [0, VARIANTS)}
     */
    void run(int variant, Runnable ops);

    /** Forgets every captured run: the tensors the ops use are no longer the same (a new request's views). */
    void reset();

    /** Frees the captured runs. Idempotent. */
    @Override
    void close();

    /** Throws {@link IllegalArgumentException} unless {@code 0 ≤ variant < }{@link #VARIANTS}. */
    static void checkVariant(int variant) {
        if (variant < 0 || variant >= VARIANTS) {
            throw new IllegalArgumentException("step graph variant " + variant + " outside [0, " + VARIANTS + ")");
        }
    }
}
