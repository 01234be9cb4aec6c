package org.florence2j.generate;

/**
 * HuggingFace's {@code NoRepeatNGramLogitsProcessor}: bans every token that would complete an n-gram already present
 * in the sequence (the decoder start token included). Scans the history instead of building a dictionary, so it
 * allocates nothing; the scores themselves are set to {@code -inf} by {@code Backend.logSoftmaxTopK}.
 */
final class NoRepeatNGram {
    private final int size;

    NoRepeatNGram(int size) {
        this.size = size;
    }

    /**
     * Writes the tokens banned after {@code history[offset … offset + length)} to {@code banned} from
     * {@code bannedOffset}, one per earlier occurrence of the last {@code size - 1} tokens (so at most
     * {@code length}, repeats possible).
     *
     * @return how many were written
     */
    int bannedTokens(int[] history, int offset, int length, int[] banned, int bannedOffset) {
        if (size <= 0 || length + 1 < size) {
            return 0;
        }
        int count = 0;
        int prefixStart = offset + length - size + 1;
        for (int start = offset; start + size <= offset + length; start++) {
            boolean match = true;
            for (int j = 0; j < size - 1 && match; j++) {
                match = history[start + j] == history[prefixStart + j];
            }
            if (match) {
                banned[bannedOffset + count++] = history[start + size - 1];
            }
        }
        return count;
    }
}
