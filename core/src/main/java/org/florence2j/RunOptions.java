package org.florence2j;

import java.time.Duration;
import org.florence2j.config.EarlyStopping;
import org.florence2j.model.Taps;

/**
 * Per-call settings of {@link Florence2#run}. Unset values come from the model's config.
 *
 * @param numBeams      beams for beam search; 1 is greedy; {@code null} takes {@code text_config.num_beams}
 * @param maxNewTokens  tokens to generate at most (the reference's {@code max_new_tokens}), 1 to
 *                      {@link #MAX_NEW_TOKENS}; past the decoder's learned positions ({@code max_position_embeddings},
 *                      1024 in Florence-2) a sequence that ends before them is returned, and one that would need a
 *                      later position fails the call with an {@link InvalidInputException}, as the reference's
 *                      {@code generate()} runs and fails
 * @param listener      receives tokens as they are chosen; greedy search only, {@code null} for none
 * @param taps          observes named intermediates (pixel values, DaViT stages, encoder states); taps whose
 *                      {@link Taps#readsVisionTower} answers {@code false} get no DaViT stage on any device, and on
 *                      a GPU taps that read them make the tower run op by op
 * @param timeout       how long a call may take, counted from the call, image decoding and waiting for the engine
 *                      included; past it the request stops with a {@link RequestTimeoutException} (see
 *                      {@link Florence2#runBatch}); {@code null} for no limit
 * @param earlyStopping when beam search ends for an image, as {@code generate(early_stopping=…)} sets it;
 *                      {@code null} takes {@code text_config.early_stopping} (as {@code generate()} without the
 *                      argument). Greedy search ignores it, as the reference's does
 */
public record RunOptions(Integer numBeams, int maxNewTokens, TokenListener listener, Taps taps, Duration timeout,
        EarlyStopping earlyStopping) {
    /** The reference's usual {@code max_new_tokens} for Florence-2. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 1024;
    /**
     * The most new tokens a call may ask for, so that {@code max_length} (one more) is an int; a model generates at
     * most as many as its decoder has learned positions.
     */
    public static final int MAX_NEW_TOKENS = Integer.MAX_VALUE - 1;

    /**
     * Checks the options; a {@code null} taps means none.
     *
     * @throws InvalidInputException when numBeams is below 1, maxNewTokens not 1 to {@link #MAX_NEW_TOKENS}, or the
     *                               timeout not positive
     */
    public RunOptions {
        if (numBeams != null && numBeams < 1) {
            throw new InvalidInputException("numBeams must be at least 1, got " + numBeams);
        }
        if (maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS) {
            throw new InvalidInputException("maxNewTokens must be 1 to " + MAX_NEW_TOKENS + ", got " + maxNewTokens);
        }
        if (taps == null) {
            taps = Taps.NONE;
        }
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new InvalidInputException("timeout must be positive, got " + timeout);
        }
    }

    /** Beams from the config, 1024 new tokens at most, no listener, no taps, no timeout, the config's stopping. */
    public static RunOptions defaults() {
        return new RunOptions(null, DEFAULT_MAX_NEW_TOKENS, null, Taps.NONE, null, null);
    }

    /**
     * Searches with {@code beams} beams (1: greedy), replacing the config's {@code num_beams} as {@code generate()}'s
     * keyword does.
     *
     * @throws InvalidInputException when {@code beams} is below 1
     */
    public RunOptions withNumBeams(int beams) {
        return new RunOptions(beams, maxNewTokens, listener, taps, timeout, earlyStopping);
    }

    /** Greedy search (one beam). */
    public RunOptions greedy() {
        return withNumBeams(1);
    }

    /**
     * Generates at most {@code tokens} new tokens ({@code max_new_tokens}).
     *
     * @throws InvalidInputException when {@code tokens} is not 1 to {@link #MAX_NEW_TOKENS}
     */
    public RunOptions withMaxNewTokens(int tokens) {
        return new RunOptions(numBeams, tokens, listener, taps, timeout, earlyStopping);
    }

    /** Streams tokens to {@code newListener}; requires greedy search. */
    public RunOptions withListener(TokenListener newListener) {
        return new RunOptions(numBeams, maxNewTokens, newListener, taps, timeout, earlyStopping);
    }

    /** Reports named intermediates to {@code newTaps} (see {@link Taps}). */
    public RunOptions withTaps(Taps newTaps) {
        return new RunOptions(numBeams, maxNewTokens, listener, newTaps, timeout, earlyStopping);
    }

    /**
     * Stops the call with a {@link RequestTimeoutException} once {@code limit} has passed ({@code null}: never).
     *
     * @throws InvalidInputException when {@code limit} is zero or negative
     */
    public RunOptions withTimeout(Duration limit) {
        return new RunOptions(numBeams, maxNewTokens, listener, taps, limit, earlyStopping);
    }

    /**
     * Ends beam search as {@code mode} says instead of as {@code text_config.early_stopping} does ({@code null}: as
     * the config says). Florence-2's model card calls {@code generate(…, early_stopping=False, num_beams=3)}, while
     * its checkpoints' configs say {@code true}: {@code withEarlyStopping(EarlyStopping.FALSE)} makes that call.
     * Greedy search (one beam) has nothing to stop early and ignores it, also when coalescing calls.
     */
    public RunOptions withEarlyStopping(EarlyStopping mode) {
        return new RunOptions(numBeams, maxNewTokens, listener, taps, timeout, mode);
    }
}
