package org.florence2j.backend;

/**
 * Which keys a query may attend to in {@link Backend#attention}.
 *
 * <p>{@link #none()}: every valid key. {@link #causal(int)}: query {@code i} sits at absolute position
 * {@code pastTokens + i} and sees keys {@code 0 … pastTokens + i} (the decoder's self-attention while the cache
 * holds {@code pastTokens} earlier positions).
 *
 * @param causal     whether the causal rule applies
 * @param pastTokens positions already in the cache before the first query
 */
public record AttentionMask(boolean causal, int pastTokens) {
    private static final AttentionMask NONE = new AttentionMask(false, 0);

    public AttentionMask {
        if (pastTokens < 0) {
            throw new IllegalArgumentException("pastTokens must be >= 0: " + pastTokens);
        }
    }

    /** No causal rule: every query sees every valid key. */
    public static AttentionMask none() {
        return NONE;
    }

    /** Query {@code i} sees keys {@code 0..pastTokens + i}: decoding after {@code pastTokens} cached tokens. */
    public static AttentionMask causal(int pastTokens) {
        return new AttentionMask(true, pastTokens);
    }
}
