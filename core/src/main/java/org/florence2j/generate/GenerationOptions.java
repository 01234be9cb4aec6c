package org.florence2j.generate;

import org.florence2j.InvalidInputException;
import org.florence2j.config.EarlyStopping;
import org.florence2j.config.TextConfig;

/**
 * How to generate, with the meaning of HuggingFace's {@code generate()} arguments of the same names (transformers
 * 4.41, the version Florence-2's remote code pins).
 *
 * @param numBeams          1 for greedy search, more for beam search
 * @param maxNewTokens      tokens generated after the decoder start token; {@code max_length = maxNewTokens + 1}
 * @param noRepeatNgramSize no n-gram of this size occurs twice in a sequence; 0 disables
 * @param decoderStartToken the decoder's first input ({@code decoder_start_token_id}, 2 for Florence-2)
 * @param eosToken          ends a sequence
 * @param padToken          fills rows that finished early
 * @param forcedBosToken    the only token allowed at the first generated position, or -1
 * @param forcedEosToken    the only token allowed at the last position ({@code max_length - 1}), or -1
 * @param lengthPenalty     a finished beam scores {@code sum(logprobs) / generatedLength^lengthPenalty}
 * @param earlyStopping     when beam search ends for an image before {@code max_length}
 * @param minNewTokens      EOS is banned until this many tokens were generated
 *                          ({@link TextConfig#minGeneratedTokens()})
 */
public record GenerationOptions(int numBeams, int maxNewTokens, int noRepeatNgramSize, int decoderStartToken,
        int eosToken, int padToken, int forcedBosToken, int forcedEosToken, double lengthPenalty,
        EarlyStopping earlyStopping, int minNewTokens) {
    public GenerationOptions {
        if (earlyStopping == null) {
            throw new IllegalArgumentException("earlyStopping is required");
        }
        if (numBeams < 1) {
            throw new IllegalArgumentException("numBeams must be >= 1: " + numBeams);
        }
        if (maxNewTokens < 1 || maxNewTokens == Integer.MAX_VALUE) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1 and leave max_length an int: "
                    + maxNewTokens);
        }
        if (noRepeatNgramSize < 0) {
            throw new IllegalArgumentException("noRepeatNgramSize must be >= 0: " + noRepeatNgramSize);
        }
        if (minNewTokens < 0) {
            throw new IllegalArgumentException("minNewTokens must be >= 0: " + minNewTokens);
        }
    }

    /**
     * The generation settings of {@code c} (those the reference's {@code generate()} runs with: see
     * {@link TextConfig}), with {@code maxNewTokens}.
     */
    public static GenerationOptions fromConfig(TextConfig c, int maxNewTokens) {
        return new GenerationOptions(c.numBeams(), maxNewTokens, c.noRepeatNgramSize(), c.decoderStartTokenId(),
                c.eosTokenId(), c.padTokenId(), c.forcedBosTokenId() == null ? -1 : c.forcedBosTokenId(),
                c.forcedEosTokenId() == null ? -1 : c.forcedEosTokenId(), c.lengthPenalty(), c.earlyStopping(),
                c.minGeneratedTokens());
    }

    /** The same options with {@code numBeams} beams (1 = greedy). */
    public GenerationOptions withNumBeams(int beams) {
        return new GenerationOptions(beams, maxNewTokens, noRepeatNgramSize, decoderStartToken, eosToken, padToken,
                forcedBosToken, forcedEosToken, lengthPenalty, earlyStopping, minNewTokens);
    }

    /** The same options with {@code tokens} new tokens at most. */
    public GenerationOptions withMaxNewTokens(int tokens) {
        return new GenerationOptions(numBeams, tokens, noRepeatNgramSize, decoderStartToken, eosToken, padToken,
                forcedBosToken, forcedEosToken, lengthPenalty, earlyStopping, minNewTokens);
    }

    /** The same options with beam search ending as {@code mode} says. */
    public GenerationOptions withEarlyStopping(EarlyStopping mode) {
        return new GenerationOptions(numBeams, maxNewTokens, noRepeatNgramSize, decoderStartToken, eosToken, padToken,
                forcedBosToken, forcedEosToken, lengthPenalty, mode, minNewTokens);
    }

    /**
     * The token banned after {@code length} tokens of a sequence (the decoder start token included) besides the
     * no-repeat n-grams: EOS while fewer than {@link #minNewTokens} were generated
     * ({@code MinLengthLogitsProcessor}, {@code MinNewTokensLengthLogitsProcessor}), else {@code -1}.
     */
    public int bannedAfter(int length) {
        return eosToken >= 0 && length - 1 < minNewTokens ? eosToken : -1;
    }

    /** Whether this is greedy search. */
    public boolean greedy() {
        return numBeams == 1;
    }

    /** HuggingFace's {@code max_length}: the decoder start token plus {@code maxNewTokens}. */
    public int maxLength() {
        return maxNewTokens + 1;
    }

    /**
     * The new tokens a request of {@code maxNewTokens} can reach on a model of {@code positions} positions: at most
     * one per position. A longer sequence would need a step at a position past them, which the search refuses as
     * the reference's position embedding does ({@link StepModel#positions}); the last token of a sequence is never
     * fed back, so the reference's {@code max_new_tokens=1024} fits BART's 1024 positions.
     */
    public static int reachableNewTokens(int maxNewTokens, int positions) {
        return Math.min(maxNewTokens, positions);
    }

    /**
     * The longest sequence a search can make on a model of {@code positions} positions: {@link #maxLength}, or the
     * decoder start token and {@link #reachableNewTokens}.
     */
    int reachableLength(int positions) {
        return reachableNewTokens(maxNewTokens, positions) + 1;
    }

    /**
     * The failure of a search whose next step needs position {@code positions}, past the model's learned ones, as
     * the reference's learned position embedding fails there (its {@code generate()} only warns, at the step that
     * reaches {@code max_position_embeddings}): the images not marked in {@code ended} (of the request's
     * {@code images}) had not ended.
     */
    InvalidInputException pastPositions(int positions, boolean[] ended, int images) {
        StringBuilder open = new StringBuilder();
        int count = 0;
        for (int image = 0; image < images; image++) {
            if (!ended[image]) {
                open.append(count++ == 0 ? "" : ", ").append(image);
            }
        }
        String which = images == 1 ? "the image" : (count == 1 ? "image " : "images ") + open + " of " + images;
        return new InvalidInputException("generation ran out of the decoder's " + positions + " learned positions:"
                + " after " + positions + " new tokens " + which + " had not ended, and max_new_tokens " + maxNewTokens
                + " allows more, but the model has no position for the next token (the reference's position embedding"
                + " fails there too); ask for at most " + positions + " new tokens");
    }
}
