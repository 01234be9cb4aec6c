package org.florence2j.image;

/**
 * The inverse transforms of VP8 (RFC 6386 section 14), in libwebp's integer arithmetic ({@code src/dsp/dec.c}
 * {@code TransformOne}, {@code TransformWHT}): the 4 × 4 inverse DCT that adds a block's residual to its prediction,
 * and the inverse Walsh–Hadamard transform that spreads the second-order (Y2) block over the DC coefficients of a
 * 16 × 16-predicted macroblock's luma blocks. Coefficients are 16-bit, as libwebp stores them: values are truncated
 * to 16 bits where libwebp writes them, which only a corrupt stream can make matter.
 */
final class Vp8Transform {
    /** cos(π/8)·√2 − 1 and sin(π/8)·√2 in 16-bit fixed point ({@code cospi8sqrt2minus1}, {@code sinpi8sqrt2}). */
    private static final int COS_MINUS_ONE = 20091;
    private static final int SIN = 35468;

    private Vp8Transform() {}

    /**
     * Adds the inverse DCT of the 16 coefficients {@code coefficients[from, from + 16)} (raster order) to the 4 × 4
     * block at {@code at} of {@code work} ({@value Vp8Intra#STRIDE} samples a row), clamping to 0..255. {@code columns}
     * is 16 ints of scratch, the caller's so that no block allocates.
     */
    static void addInverseDct(short[] coefficients, int from, int[] work, int at, int[] columns) {
        // columns: [column][row] after the vertical pass
        for (int column = 0; column < 4; column++) {
            int c0 = coefficients[from + column];
            int c1 = coefficients[from + 4 + column];
            int c2 = coefficients[from + 8 + column];
            int c3 = coefficients[from + 12 + column];
            int a = c0 + c2;
            int b = c0 - c2;
            int c = mulSin(c1) - mulCos(c3);
            int d = mulCos(c1) + mulSin(c3);
            columns[column * 4] = a + d;
            columns[column * 4 + 1] = b + c;
            columns[column * 4 + 2] = b - c;
            columns[column * 4 + 3] = a - d;
        }
        for (int row = 0; row < 4; row++) {
            int dc = columns[row] + 4; // rounds the final division by 8
            int a = dc + columns[8 + row];
            int b = dc - columns[8 + row];
            int c = mulSin(columns[4 + row]) - mulCos(columns[12 + row]);
            int d = mulCos(columns[4 + row]) + mulSin(columns[12 + row]);
            int start = at + row * Vp8Intra.STRIDE;
            work[start] = Vp8Intra.clamp255(work[start] + ((a + d) >> 3));
            work[start + 1] = Vp8Intra.clamp255(work[start + 1] + ((b + c) >> 3));
            work[start + 2] = Vp8Intra.clamp255(work[start + 2] + ((b - c) >> 3));
            work[start + 3] = Vp8Intra.clamp255(work[start + 3] + ((a - d) >> 3));
        }
    }

    /**
     * Adds the inverse DCT of a block whose only non-zero coefficient is its DC, {@code dc}: the same as
     * {@link #addInverseDct} on such a block, in one addition.
     */
    static void addInverseDctOfDc(int dc, int[] work, int at) {
        int offset = (dc + 4) >> 3;
        for (int row = 0; row < 4; row++) {
            int start = at + row * Vp8Intra.STRIDE;
            for (int column = 0; column < 4; column++) {
                work[start + column] = Vp8Intra.clamp255(work[start + column] + offset);
            }
        }
    }

    /**
     * The inverse Walsh–Hadamard transform of the 16 Y2 coefficients {@code y2} (raster order): writes the DC
     * coefficient of luma block {@code i} into {@code coefficients[16 × i]}, through 16 ints of scratch {@code rows}.
     */
    static void inverseWalshHadamard(short[] y2, short[] coefficients, int[] rows) {
        for (int i = 0; i < 4; i++) {
            int a0 = y2[i] + y2[12 + i];
            int a1 = y2[4 + i] + y2[8 + i];
            int a2 = y2[4 + i] - y2[8 + i];
            int a3 = y2[i] - y2[12 + i];
            rows[i] = a0 + a1;
            rows[8 + i] = a0 - a1;
            rows[4 + i] = a3 + a2;
            rows[12 + i] = a3 - a2;
        }
        for (int i = 0; i < 4; i++) {
            int dc = rows[4 * i] + 3; // rounds the final division by 8
            int a0 = dc + rows[4 * i + 3];
            int a1 = rows[4 * i + 1] + rows[4 * i + 2];
            int a2 = rows[4 * i + 1] - rows[4 * i + 2];
            int a3 = dc - rows[4 * i + 3];
            coefficients[64 * i] = (short) ((a0 + a1) >> 3);
            coefficients[64 * i + 16] = (short) ((a3 + a2) >> 3);
            coefficients[64 * i + 32] = (short) ((a0 - a1) >> 3);
            coefficients[64 * i + 48] = (short) ((a3 - a2) >> 3);
        }
    }

    /**
     * {@link #addInverseDct} as libwebp's x86 decoder computes it ({@code src/dsp/dec_sse2.c}, {@code Transform_SSE2}),
     * which Pillow runs on x86-64: every sum in 16-bit lanes, wrapping, the residual added to the prediction in 16
     * bits and saturated to 0..255. The same as {@link #addInverseDct} unless a corrupt or crafted stream's
     * coefficients overflow 16 bits. {@code columns} is 16 ints of scratch.
     */
    static void addInverseDct16Bit(short[] coefficients, int from, int[] work, int at, int[] columns) {
        for (int column = 0; column < 4; column++) {
            int c0 = coefficients[from + column];
            int c1 = coefficients[from + 4 + column];
            int c2 = coefficients[from + 8 + column];
            int c3 = coefficients[from + 12 + column];
            int a = (short) (c0 + c2);
            int b = (short) (c0 - c2);
            int c = (short) ((short) (c1 - c3) + (short) (mulHiSin(c1) - mulHiCos(c3)));
            int d = (short) ((short) (c1 + c3) + (short) (mulHiCos(c1) + mulHiSin(c3)));
            columns[column * 4] = (short) (a + d);
            columns[column * 4 + 1] = (short) (b + c);
            columns[column * 4 + 2] = (short) (b - c);
            columns[column * 4 + 3] = (short) (a - d);
        }
        for (int row = 0; row < 4; row++) {
            int t0 = columns[row];
            int t1 = columns[4 + row];
            int t2 = columns[8 + row];
            int t3 = columns[12 + row];
            int dc = (short) (t0 + 4);
            int a = (short) (dc + t2);
            int b = (short) (dc - t2);
            int c = (short) ((short) (t1 - t3) + (short) (mulHiSin(t1) - mulHiCos(t3)));
            int d = (short) ((short) (t1 + t3) + (short) (mulHiCos(t1) + mulHiSin(t3)));
            int start = at + row * Vp8Intra.STRIDE;
            work[start] = Vp8Intra.clamp255((short) (work[start] + ((short) (a + d) >> 3)));
            work[start + 1] = Vp8Intra.clamp255((short) (work[start + 1] + ((short) (b + c) >> 3)));
            work[start + 2] = Vp8Intra.clamp255((short) (work[start + 2] + ((short) (b - c) >> 3)));
            work[start + 3] = Vp8Intra.clamp255((short) (work[start + 3] + ((short) (a - d) >> 3)));
        }
    }

    /** {@code _mm_mulhi_epi16} by 20091: cos(π/8)·√2 − 1, to which the value itself is added. */
    private static int mulHiCos(int value) {
        return (value * COS_MINUS_ONE) >> 16;
    }

    /** {@code _mm_mulhi_epi16} by 35468 − 65536: sin(π/8)·√2 − 1, to which the value itself is added. */
    private static int mulHiSin(int value) {
        return (value * (SIN - 65536)) >> 16;
    }

    private static int mulCos(int value) {
        return ((value * COS_MINUS_ONE) >> 16) + value;
    }

    private static int mulSin(int value) {
        return (value * SIN) >> 16;
    }
}
