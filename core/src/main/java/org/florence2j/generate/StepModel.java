package org.florence2j.generate;

/**
 * The decoder as the search sees it: feeds one token per row and returns each row's best next tokens. Rows are
 * {@code images × beams}, image-major.
 */
public interface StepModel {
    /** Size of the vocabulary (the logits' row length). */
    int vocabulary();

    /**
     * The positions the model has (the decoder's learned ones): a step at {@code position >= positions()} cannot
     * run, so a search that still needs one fails instead ({@link GenerationOptions#pastPositions}).
     */
    int positions();

    /**
     * Runs one decoder step and selects from its logits what {@code candidates} asks, as
     * {@code Backend.logSoftmaxTopK} does: log-softmax, the bans, the forced token and the offsets of
     * {@code candidates}, then each row's {@code candidates.k()} best, written into {@code candidates}' results.
     *
     * @param tokens     {@code [rows]} the token fed to each row
     * @param parents    {@code [rows]}: before this step, row {@code r} continues the history of row
     *                   {@code parents[r]} (beam reordering); {@code null} when no row changes
     * @param position   absolute position of the fed token (0 for the decoder start token)
     * @param candidates the search's request for this step ({@code candidates.rows()} rows), and where the
     *                   results go
     */
    void step(int[] tokens, int[] parents, int position, Candidates candidates);
}
