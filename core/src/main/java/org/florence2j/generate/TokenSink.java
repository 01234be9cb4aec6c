package org.florence2j.generate;

/** Receives each token greedy search chooses, as it is chosen. */
@FunctionalInterface
public interface TokenSink {
    /** Ignores every token. */
    TokenSink NONE = (row, token) -> {};

    /**
     * @param row   the sequence (image) the token belongs to
     * @param token the chosen token id
     */
    void accept(int row, int token);
}
