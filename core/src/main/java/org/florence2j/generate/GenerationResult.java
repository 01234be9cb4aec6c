package org.florence2j.generate;

/**
 * One generated sequence.
 *
 * @param sequence         the ids, {@code [decoderStart, forcedBos, …, eos]} as the reference returns them (no
 *                         padding)
 * @param transitionScores one per generated token ({@code sequence.length - 1}): the processed log-probability of
 *                         the token given its prefix, as {@code compute_transition_scores} gives for beam search
 *                         (for greedy search: log-softmax of the processed logits, i.e.
 *                         {@code normalize_logits=True})
 * @param sequenceScore    the sum of the log-probabilities divided by {@code generatedLength^lengthPenalty}
 *                         (beam search's {@code sequences_scores}; the same formula for greedy search)
 */
public record GenerationResult(int[] sequence, float[] transitionScores, float sequenceScore) {}
