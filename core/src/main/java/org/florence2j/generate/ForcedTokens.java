package org.florence2j.generate;

/**
 * HuggingFace's {@code ForcedBOSTokenLogitsProcessor} and {@code ForcedEOSTokenLogitsProcessor}: when the sequence
 * holds one token the only allowed next token is BOS; when it holds {@code max_length - 1} tokens, EOS. The forced
 * token's processed score is 0 and every other is {@code -inf} ({@code Backend.logSoftmaxTopK} applies it). EOS is
 * checked first because in the reference's processor list it runs last and so overrides BOS.
 */
final class ForcedTokens {
    private final int bos;
    private final int eos;
    private final int maxLength;

    ForcedTokens(int bos, int eos, int maxLength) {
        this.bos = bos;
        this.eos = eos;
        this.maxLength = maxLength;
    }

    /** The token forced after a sequence of {@code length} tokens, or -1 when none is. */
    int forcedAfter(int length) {
        if (eos >= 0 && length == maxLength - 1) {
            return eos;
        }
        if (bos >= 0 && length == 1) {
            return bos;
        }
        return -1;
    }
}
