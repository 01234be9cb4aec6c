package org.florence2j.generate;

/**
 * Greedy decoding as HuggingFace's {@code _greedy_search} runs it for Florence-2: at each step the logits pass
 * through the same processors as beam search (no-repeat n-gram, forced BOS, forced EOS), the arg-max is taken,
 * rows that emitted EOS are fed the pad token from then on, and the loop ends when every row finished or
 * {@code max_length} is reached. Every buffer is sized at construction; a step allocates nothing.
 */
public final class GreedySearch {
    private final int maxRows;
    private final int maxLength;
    private final int vocabulary;
    private final float[] logits; // [maxRows · vocabulary]
    private final int[] history; // [maxRows · maxLength]
    private final float[] transitions; // [maxRows · maxLength]
    private final int[] lengths; // [maxRows]
    private final boolean[] finished; // [maxRows]

    /** Buffers for up to {@code maxRows} sequences of up to {@code maxLength} tokens. */
    public GreedySearch(int maxRows, int maxLength, int vocabulary) {
        this.maxRows = maxRows;
        this.maxLength = maxLength;
        this.vocabulary = vocabulary;
        this.logits = new float[maxRows * vocabulary];
        this.history = new int[maxRows * maxLength];
        this.transitions = new float[maxRows * maxLength];
        this.lengths = new int[maxRows];
        this.finished = new boolean[maxRows];
    }

    /** Generates one sequence per row; {@code model} holds {@code rows} rows. */
    public GenerationResult[] run(StepModel model, int rows, GenerationOptions options) {
        return run(model, rows, options, TokenSink.NONE);
    }

    /** Generates one sequence per row, handing each chosen token to {@code sink} as it is chosen. */
    public GenerationResult[] run(StepModel model, int rows, GenerationOptions options, TokenSink sink) {
        int length = options.maxLength();
        if (rows > maxRows || length > maxLength) {
            throw new IllegalArgumentException("greedy search of " + rows + " rows × " + length
                    + " tokens exceeds its buffers (" + maxRows + " × " + maxLength + ")");
        }
        NoRepeatNGram noRepeat = new NoRepeatNGram(options.noRepeatNgramSize());
        ForcedTokens forced = new ForcedTokens(options.forcedBosToken(), options.forcedEosToken(), length);
        int[] tokens = new int[rows];
        for (int r = 0; r < rows; r++) {
            history[r * maxLength] = options.decoderStartToken();
            tokens[r] = options.decoderStartToken();
            lengths[r] = 1;
            finished[r] = false;
        }
        int unfinished = rows;
        for (int current = 1; current < length && unfinished > 0; current++) {
            model.step(tokens, null, current - 1, logits);
            int forcedToken = forced.forcedAfter(current);
            for (int r = 0; r < rows; r++) {
                if (finished[r]) {
                    tokens[r] = options.padToken();
                    continue;
                }
                int offset = r * vocabulary;
                noRepeat.apply(history, r * maxLength, current, logits, offset);
                if (forcedToken >= 0) {
                    ForcedTokens.force(logits, offset, vocabulary, forcedToken);
                }
                int token = Scores.argmax(logits, offset, vocabulary);
                float logProb = logits[offset + token] - Scores.logSumExp(logits, offset, vocabulary);
                history[r * maxLength + current] = token;
                transitions[r * maxLength + current - 1] = logProb;
                lengths[r] = current + 1;
                tokens[r] = token;
                sink.accept(r, token);
                if (token == options.eosToken()) {
                    finished[r] = true;
                    unfinished--;
                }
            }
        }
        GenerationResult[] results = new GenerationResult[rows];
        for (int r = 0; r < rows; r++) {
            results[r] = Hypotheses.result(history, r * maxLength, lengths[r], transitions, r * maxLength,
                    lengths[r] - 1, options.lengthPenalty());
        }
        return results;
    }
}
