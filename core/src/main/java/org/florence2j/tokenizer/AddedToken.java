package org.florence2j.tokenizer;

/**
 * A token matched in the raw text before BPE, with HF tokenizers' {@code AddedToken} flags.
 *
 * @param content    the exact text matched
 * @param id         its id
 * @param special    skipped by {@code decode(ids, true)}
 * @param lstrip     the match also swallows the whitespace on its left
 * @param rstrip     the match also swallows the whitespace on its right
 * @param singleWord the match counts only when not inside a word
 * @param normalized matched in the second pass, on the pieces left by the non-normalized tokens (no normalizer
 *                   applies to byte-level BPE, so the text is the same; only the pass order differs)
 */
record AddedToken(String content, int id, boolean special, boolean lstrip, boolean rstrip, boolean singleWord,
                  boolean normalized) {
}
