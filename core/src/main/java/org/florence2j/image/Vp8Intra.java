package org.florence2j.image;

import java.util.Arrays;

/**
 * The intra predictors of VP8 key frames (RFC 6386 section 12), as libwebp computes them ({@code src/dsp/dec.c}):
 * each writes a block's prediction into a work buffer of {@value #STRIDE} samples a row whose row above and column
 * to the left of the block already hold the neighbouring samples (or libwebp's stand-ins at the picture's edge:
 * 127 above, 129 to the left).
 *
 * <p>Modes are numbered as RFC 6386 numbers the subblock modes ({@code B_DC_PRED} = 0 … {@code B_HU_PRED} = 9); the
 * four whole-block modes of luma and chroma share the first four numbers (DC, TM, V, H), which is also how a
 * macroblock of one 16 × 16 mode counts as context for its neighbours' subblock modes. A block on the top or left
 * edge of the picture that is DC-predicted uses one of the three edge variants, which average only the samples that
 * exist.
 */
final class Vp8Intra {
    /** Samples per row of the work buffer. */
    static final int STRIDE = 32;

    /** Subblock modes, B_DC_PRED to B_HU_PRED; the first four are also the whole-block modes DC, TM, V and H. */
    static final int DC = 0;
    static final int TM = 1;
    static final int VE = 2;
    static final int HE = 3;
    static final int LD = 4;
    static final int RD = 5;
    static final int VR = 6;
    static final int VL = 7;
    static final int HD = 8;
    static final int HU = 9;
    /** DC prediction of a 16 × 16 or 8 × 8 block in the top row of macroblocks: the left samples only. */
    static final int DC_NO_TOP = 10;
    /** DC prediction of a 16 × 16 or 8 × 8 block in the left column of macroblocks: the top samples only. */
    static final int DC_NO_LEFT = 11;
    /** DC prediction of the top-left macroblock's blocks: 128. */
    static final int DC_NO_TOP_LEFT = 12;

    /**
     * The diagonal modes LD, RD, VR, VL, HD and HU, as the spec's section 12.3 writes them: each predicted sample, in
     * raster order, is a 2- or 3-tap average of consecutive edge samples (see {@link #predictDiagonal}) or one edge
     * sample, written {@code 100 × taps + first edge index}. VL's last two break its pattern, as in the spec.
     */
    private static final int[][] DIAGONAL_TAPS = {
        {306, 307, 308, 309, 307, 308, 309, 310, 308, 309, 310, 311, 309, 310, 311, 312}, // LD, down-left
        {304, 305, 306, 307, 303, 304, 305, 306, 302, 303, 304, 305, 301, 302, 303, 304}, // RD, down-right
        {205, 206, 207, 208, 304, 305, 306, 307, 303, 205, 206, 207, 302, 304, 305, 306}, // VR, vertical-right
        {206, 207, 208, 209, 306, 307, 308, 309, 207, 208, 209, 310, 307, 308, 309, 311}, // VL, vertical-left
        {204, 304, 305, 306, 203, 303, 204, 304, 202, 302, 203, 303, 201, 301, 202, 302}, // HD, horizontal-down
        {203, 302, 202, 301, 202, 301, 201, 300, 201, 300, 101, 101, 101, 101, 101, 101}, // HU, horizontal-up
    };

    private Vp8Intra() {}

    /** The mode a DC-predicted 16 × 16 or 8 × 8 block at macroblock ({@code mbX}, {@code mbY}) really uses. */
    static int edgeMode(int mode, int mbX, int mbY) {
        if (mode != DC) {
            return mode;
        }
        if (mbX == 0) {
            return mbY == 0 ? DC_NO_TOP_LEFT : DC_NO_LEFT;
        }
        return mbY == 0 ? DC_NO_TOP : DC;
    }

    /** Predicts the {@code size} × {@code size} block (16 luma, 8 chroma) at {@code at} with a whole-block mode. */
    static void predictBlock(int mode, int size, int[] work, int at) {
        switch (mode) {
            case DC -> fill(work, at, size,
                    (sumTop(work, at, size) + sumLeft(work, at, size) + size) >> log2(2 * size));
            case DC_NO_TOP -> fill(work, at, size, (sumLeft(work, at, size) + size / 2) >> log2(size));
            case DC_NO_LEFT -> fill(work, at, size, (sumTop(work, at, size) + size / 2) >> log2(size));
            case DC_NO_TOP_LEFT -> fill(work, at, size, 128);
            case TM -> trueMotion(work, at, size);
            case VE -> {
                for (int row = 0; row < size; row++) {
                    System.arraycopy(work, at - STRIDE, work, at + row * STRIDE, size);
                }
            }
            case HE -> {
                for (int row = 0; row < size; row++) {
                    int start = at + row * STRIDE;
                    Arrays.fill(work, start, start + size, work[start - 1]);
                }
            }
            default -> throw new IllegalArgumentException("not a whole-block intra mode: " + mode);
        }
    }

    /**
     * Predicts the 4 × 4 subblock at {@code at} with subblock mode {@code mode}. The four samples above and to the
     * right of the subblock must be in place too (the diagonal modes read them). {@code edge} is at least 15 ints
     * of scratch for those modes.
     */
    static void predictSubblock(int mode, int[] work, int at, int[] edge) {
        int top = at - STRIDE;
        switch (mode) {
            case DC -> fill(work, at, 4, (sumTop(work, at, 4) + sumLeft(work, at, 4) + 4) >> 3);
            case TM -> trueMotion(work, at, 4);
            case VE -> {
                for (int column = 0; column < 4; column++) {
                    int smoothed = avg3(work[top + column - 1], work[top + column], work[top + column + 1]);
                    for (int row = 0; row < 4; row++) {
                        work[at + row * STRIDE + column] = smoothed;
                    }
                }
            }
            case HE -> {
                // Each row the 3-tap average around its left sample, the corner above the first, the last repeated.
                for (int row = 0; row < 4; row++) {
                    int above = work[at + (row - 1) * STRIDE - 1];
                    int left = work[at + row * STRIDE - 1];
                    int below = work[at + Math.min(row + 1, 3) * STRIDE - 1];
                    Arrays.fill(work, at + row * STRIDE, at + row * STRIDE + 4, avg3(above, left, below));
                }
            }
            case LD, RD, VR, VL, HD, HU -> predictDiagonal(DIAGONAL_TAPS[mode - LD], work, at, edge);
            default -> throw new IllegalArgumentException("not a subblock intra mode: " + mode);
        }
    }

    /** TrueMotion: above + left − above-left, clamped to 0..255. */
    private static void trueMotion(int[] work, int at, int size) {
        int top = at - STRIDE;
        int corner = work[top - 1];
        for (int row = 0; row < size; row++) {
            int start = at + row * STRIDE;
            int leftMinusCorner = work[start - 1] - corner;
            for (int column = 0; column < size; column++) {
                work[start + column] = clamp255(work[top + column] + leftMinusCorner);
            }
        }
    }

    /**
     * Predicts a subblock with one of the six diagonal modes from its {@code taps} (see {@link #DIAGONAL_TAPS}).
     * The edge runs up the left column, through the corner and along the 8 samples above and above-right: E[1..4]
     * the left samples from the bottom up, E[5] the corner, E[6..13] those above; E[0] and E[14] repeat the ends, for
     * the averages that run off them.
     */
    private static void predictDiagonal(int[] taps, int[] work, int at, int[] edge) {
        for (int row = 0; row < 4; row++) {
            edge[4 - row] = work[at + row * STRIDE - 1];
        }
        edge[0] = edge[1];
        System.arraycopy(work, at - STRIDE - 1, edge, 5, 9);
        edge[14] = edge[13];
        for (int i = 0; i < 16; i++) {
            int first = taps[i] % 100;
            int sample = switch (taps[i] / 100) {
                case 1 -> edge[first];
                case 2 -> avg2(edge[first], edge[first + 1]);
                default -> avg3(edge[first], edge[first + 1], edge[first + 2]);
            };
            work[at + (i >> 2) * STRIDE + (i & 3)] = sample;
        }
    }

    private static int sumTop(int[] work, int at, int size) {
        int sum = 0;
        for (int column = 0; column < size; column++) {
            sum += work[at - STRIDE + column];
        }
        return sum;
    }

    private static int sumLeft(int[] work, int at, int size) {
        int sum = 0;
        for (int row = 0; row < size; row++) {
            sum += work[at + row * STRIDE - 1];
        }
        return sum;
    }

    private static void fill(int[] work, int at, int size, int sample) {
        for (int row = 0; row < size; row++) {
            int start = at + row * STRIDE;
            Arrays.fill(work, start, start + size, sample);
        }
    }

    private static int log2(int powerOfTwo) {
        return Integer.numberOfTrailingZeros(powerOfTwo);
    }

    private static int avg2(int a, int b) {
        return (a + b + 1) >> 1;
    }

    private static int avg3(int a, int b, int c) {
        return (a + 2 * b + c + 2) >> 2;
    }

    /** Clamps a sample to 0..255. */
    static int clamp255(int sample) {
        return sample < 0 ? 0 : Math.min(sample, 255);
    }
}
