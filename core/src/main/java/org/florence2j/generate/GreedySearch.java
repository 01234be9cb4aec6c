package org.florence2j.generate;

/**
 * Greedy decoding as HuggingFace's {@code _greedy_search} runs it for Florence-2: at each step the logits pass
 * through the same processors as beam search (no-repeat n-gram, forced BOS, forced EOS), the arg-max is taken,
 * rows that emitted EOS are fed the pad token from then on, and the loop ends when every row finished or
 * {@code max_length} is reached. The step returns each row's best token ({@code k = 1}); the log-softmax before the
 * processors is monotone, so its arg-max is the processed logits' arg-max (unless two logits round to one F32
 * log-prob, far inside the goldens' near-tie margin), and the transition score, the
 * log-softmax of the processed logits, is its log-prob minus the log of the probability the processors kept.
 * Every buffer is sized at construction; a step allocates nothing.
 */
public final class GreedySearch {
    private final int maxRows;
    private final int maxLength;
    private final Candidates candidates;
    private final int[] history; // [maxRows · maxLength]
    private final float[] transitions; // [maxRows · maxLength]
    private final int[] lengths; // [maxRows]
    private final boolean[] finished; // [maxRows]

    /** Buffers for up to {@code maxRows} sequences of up to {@code maxLength} tokens. */
    public GreedySearch(int maxRows, int maxLength) {
        this.maxRows = maxRows;
        this.maxLength = maxLength;
        this.candidates = new Candidates(maxRows, 1, maxLength);
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
        int positions = model.positions();
        int reachable = options.reachableLength(positions);
        if (rows > maxRows || reachable > maxLength) {
            throw new IllegalArgumentException("greedy search of " + rows + " rows × " + reachable
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
            if (current - 1 == positions) {
                throw options.pastPositions(positions, finished, rows);
            }
            candidates.prepare(rows, 1);
            candidates.force(forced.forcedAfter(current));
            for (int r = 0; r < rows; r++) {
                if (finished[r]) {
                    candidates.clearBans(r);
                } else {
                    candidates.ban(r, noRepeat, history, r * maxLength, current, options.bannedAfter(current));
                }
            }
            model.step(tokens, null, current - 1, candidates);
            for (int r = 0; r < rows; r++) {
                if (finished[r]) {
                    tokens[r] = options.padToken();
                    continue;
                }
                // No candidate when every token is banned: torch.argmax of an all -inf row is its first index.
                int token = Math.max(0, candidates.tokens()[r]);
                float logProb = candidates.logProbs()[r] - candidates.logSumExp()[r];
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
