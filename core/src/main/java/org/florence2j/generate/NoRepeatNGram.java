package org.florence2j.generate;

/**
 * HuggingFace's {@code NoRepeatNGramLogitsProcessor}: bans every token that would complete an n-gram already present
 * in the sequence (the decoder start token included). Scans the history instead of building a dictionary, so it
 * allocates nothing.
 */
final class NoRepeatNGram {
    private final int size;

    NoRepeatNGram(int size) {
        this.size = size;
    }

    /**
     * Sets to {@code -inf} the scores of tokens banned after {@code history[offset … offset + length)}.
     *
     * @param scores      scores of one row, starting at {@code scoreOffset}
     */
    void apply(int[] history, int offset, int length, float[] scores, int scoreOffset) {
        if (size <= 0 || length + 1 < size) {
            return;
        }
        int prefixStart = offset + length - size + 1;
        for (int start = offset; start + size <= offset + length; start++) {
            boolean match = true;
            for (int j = 0; j < size - 1 && match; j++) {
                match = history[start + j] == history[prefixStart + j];
            }
            if (match) {
                scores[scoreOffset + history[start + size - 1]] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
