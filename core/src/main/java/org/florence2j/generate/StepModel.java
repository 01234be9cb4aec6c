package org.florence2j.generate;

/**
 * The decoder as the search sees it: feeds one token per row and returns next-token logits. Rows are
 * {@code images × beams}, image-major.
 */
public interface StepModel {
    /** Size of the vocabulary (the logits' row length). */
    int vocabulary();

    /**
     * Runs one decoder step.
     *
     * @param tokens   {@code [rows]} the token fed to each row
     * @param parents  {@code [rows]}: before this step, row {@code r} continues the history of row
     *                 {@code parents[r]} (beam reordering); {@code null} when no row changes
     * @param position absolute position of the fed token (0 for the decoder start token)
     * @param logits   {@code [rows · vocabulary]} filled with the raw next-token logits
     */
    void step(int[] tokens, int[] parents, int position, float[] logits);
}
