package org.florence2j.generate;

/**
 * What a search asks of one decoder step and what the step hands back, as {@code Backend.logSoftmaxTopK} defines
 * them: the search sets, per row, the banned tokens (no-repeat n-grams, and EOS while the row is shorter than the
 * request's minimum) and the score offset (beam search's beam score), and for every row the forced token and
 * {@code k}; the {@link StepModel} returns each row's {@code k} best scores, tokens and processed log-probs and the
 * log of the probability the processors kept. Arrays are sized once for the search's largest request and read
 * row-major with the request's stride ({@link #k()} for the results, {@link #banWidth()} for the bans), so a step
 * allocates nothing.
 */
public final class Candidates {
    private final int banWidth;
    private final int[] bannedTokens; // [maxRows · banWidth], each row's ids, then -1 unless the row is full
    private final float[] scoreOffsets; // [maxRows]
    private final float[] scores; // [maxRows · maxK]
    private final int[] tokens; // [maxRows · maxK]
    private final float[] logProbs; // [maxRows · maxK]
    private final float[] logSumExp; // [maxRows]
    private int rows;
    private int k;
    private int forcedToken = -1;
    private boolean banning;
    private boolean offsetting;

    /**
     * Buffers for up to {@code maxRows} rows of at most {@code maxLength} tokens and {@code maxK} candidates per
     * row.
     */
    Candidates(int maxRows, int maxK, int maxLength) {
        this.banWidth = banWidth(maxLength);
        this.bannedTokens = new int[maxRows * banWidth];
        this.scoreOffsets = new float[maxRows];
        this.scores = new float[maxRows * maxK];
        this.tokens = new int[maxRows * maxK];
        this.logProbs = new float[maxRows * maxK];
        this.logSumExp = new float[maxRows];
    }

    /** Starts a step of {@code rows} rows and {@code k} candidates each: no bans, no forced token, no offsets. */
    void prepare(int rows, int k) {
        this.rows = rows;
        this.k = k;
        this.forcedToken = -1;
        this.banning = false;
        this.offsetting = false;
    }

    /**
     * The ban list width for sequences of at most {@code maxLength} tokens: no-repeat n-grams ban at most one token
     * per earlier position, and a minimum length bans EOS.
     */
    public static int banWidth(int maxLength) {
        return maxLength + 1;
    }

    /**
     * Bans in row {@code row} what {@code noRepeat} bans after {@code length} tokens of its history, and
     * {@code alsoBanned} unless it is {@code -1}.
     */
    void ban(int row, NoRepeatNGram noRepeat, int[] history, int historyOffset, int length, int alsoBanned) {
        int count = noRepeat.bannedTokens(history, historyOffset, length, bannedTokens, row * banWidth);
        if (alsoBanned >= 0) {
            bannedTokens[row * banWidth + count++] = alsoBanned;
        }
        if (count < banWidth) {
            bannedTokens[row * banWidth + count] = -1;
        }
        banning |= count > 0;
    }

    /** Leaves row {@code row} without bans. */
    void clearBans(int row) {
        bannedTokens[row * banWidth] = -1;
    }

    /** Forces {@code token} in every row ({@code -1} for none). */
    void force(int token) {
        this.forcedToken = token;
    }

    /** Adds {@code offset} to every score of row {@code row}. */
    void setScoreOffset(int row, float offset) {
        scoreOffsets[row] = offset;
        offsetting = true;
    }

    /** Rows of this step. */
    public int rows() {
        return rows;
    }

    /** Candidates per row. */
    public int k() {
        return k;
    }

    /** The row stride of {@link #bannedTokens()}. */
    public int banWidth() {
        return banWidth;
    }

    /** Whether any row bans a token this step (else the ban lists need not be read). */
    public boolean banning() {
        return banning;
    }

    /**
     * {@code [rows · banWidth]}: row {@code r}'s banned ids from {@code r · banWidth}, ended by {@code -1} unless
     * they fill the row; meaningful when {@link #banning()}.
     */
    public int[] bannedTokens() {
        return bannedTokens;
    }

    /** The token forced in every row, or {@code -1}. */
    public int forcedToken() {
        return forcedToken;
    }

    /** Whether rows have score offsets this step (else every offset is 0). */
    public boolean offsetting() {
        return offsetting;
    }

    /** {@code [rows]}: each row's score offset; meaningful when {@link #offsetting()}. */
    public float[] scoreOffsets() {
        return scoreOffsets;
    }

    /** {@code [rows · k]}, filled by the step: each row's best scores, descending. */
    public float[] scores() {
        return scores;
    }

    /** {@code [rows · k]}, filled by the step: their token ids, {@code -1} where a row has no more candidates. */
    public int[] tokens() {
        return tokens;
    }

    /** {@code [rows · k]}, filled by the step: their processed log-probabilities (the scores without offsets). */
    public float[] logProbs() {
        return logProbs;
    }

    /** {@code [rows]}, filled by the step: the log of the probability each row's processors kept. */
    public float[] logSumExp() {
        return logSumExp;
    }
}
