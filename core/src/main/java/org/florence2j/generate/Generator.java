package org.florence2j.generate;

/**
 * Runs greedy or beam search over a {@link StepModel}, with search buffers sized once for a session's limits so
 * that generating allocates nothing per token.
 */
public final class Generator {
    private final GreedySearch greedy;
    private final BeamSearch beam;
    private final int maxBeams;

    /** Buffers for up to {@code maxImages} images × {@code maxBeams} beams × {@code maxLength} tokens. */
    public Generator(int maxImages, int maxBeams, int maxLength, int vocabulary) {
        this.greedy = new GreedySearch(maxImages, maxLength);
        this.beam = maxBeams > 1 ? new BeamSearch(maxImages, maxBeams, maxLength, vocabulary) : null;
        this.maxBeams = maxBeams;
    }

    /**
     * The Java heap a generator for these limits takes, roughly (its search arrays, whose candidates grow with rows ×
     * 2 · beams, i.e. with the square of the beams), or -1 when one of its arrays, or a session's packed selection
     * of {@code rows · (6 · beams + 1)} values, would be longer than a Java array can be.
     */
    public static long heapBytes(int maxImages, int maxBeams, int maxLength) {
        long rows = (long) maxImages * maxBeams;
        long candidates = 2L * maxBeams;
        long bans = Candidates.banWidth(maxLength);
        long longest = rows * Math.max(3 * candidates + 1, Math.max(bans, maxLength));
        if (longest > Integer.MAX_VALUE - 8) {
            return -1;
        }
        // Per row: candidates' scores, tokens and log-probs, its bans, and the double-buffered history and
        // transitions; per image: its hypotheses' tokens and transitions.
        return rows * (candidates * 12 + bans * 4 + maxLength * 16L + 64) + maxImages * (maxBeams + 1L) * maxLength * 8;
    }

    /**
     * One result per image; {@code model} must hold {@code images × options.numBeams()} rows.
     *
     * @throws org.florence2j.InvalidInputException when an image's output has not ended by the model's last
     *                                              position ({@link StepModel#positions}) and
     *                                              {@code options.maxNewTokens()} allows more
     */
    public GenerationResult[] generate(StepModel model, int images, GenerationOptions options) {
        return generate(model, images, options, TokenSink.NONE);
    }

    /**
     * One result per image; greedy search hands each chosen token to {@code sink} as it goes (beam search settles
     * tokens only at the end, so it ignores the sink).
     *
     * @throws org.florence2j.InvalidInputException as {@link #generate(StepModel, int, GenerationOptions)}
     */
    public GenerationResult[] generate(StepModel model, int images, GenerationOptions options, TokenSink sink) {
        if (options.greedy()) {
            return greedy.run(model, images, options, sink);
        }
        if (beam == null || options.numBeams() > maxBeams) {
            throw new IllegalArgumentException(options.numBeams() + " beams requested; this generator was sized for "
                    + maxBeams);
        }
        return beam.run(model, images, options);
    }
}
