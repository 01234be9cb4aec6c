package org.florence2j.image;

import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;

/**
 * Turns decoded 4:2:0 planes into RGB exactly as libwebp does by default, which is what Pillow returns for a lossy
 * WebP: "fancy" chroma upsampling ({@code src/dsp/upsampling.c}, {@code UPSAMPLE_FUNC}; {@code src/dec/io_dec.c},
 * {@code EmitFancyRGB}) and the fixed-point BT.601 conversion of {@code src/dsp/yuv.h} ({@code VP8YuvToRgb}).
 *
 * <p>Upsampling: each output row is paired with its nearer chroma row (weight 3) and the other one around it
 * (weight 1), each pixel with its nearer chroma column likewise, the 9-3-3-1 filter, in libwebp's rounding (two
 * halvings of a diagonal average). The first output row and, for an even height, the last use their one chroma row
 * twice; the first pixel and, for an even width, the last use their one chroma column twice.
 *
 * <p>Conversion: {@code R = (19077·y + 26149·v − 14234·256) / 2^14}, and so on, where each product is first cut to
 * {@code (a·b) >> 8} (libwebp's {@code MultHi}, the SIMD {@code mulhi} it emulates), then clamped to 0..255.
 */
final class YuvToRgb {
    /** Output rows between two runs of the caller's stop check. */
    private static final int ROWS_PER_STOP_CHECK = 16;

    private static final int[] Y_TERM = new int[256];
    private static final int[] V_TO_R = new int[256];
    private static final int[] U_TO_G = new int[256];
    private static final int[] V_TO_G = new int[256];
    private static final int[] U_TO_B = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            Y_TERM[i] = multHi(i, 19077);
            V_TO_R[i] = multHi(i, 26149) - 14234;
            U_TO_G[i] = multHi(i, 6419);
            V_TO_G[i] = multHi(i, 13320) - 8708;
            U_TO_B[i] = multHi(i, 33050) - 17685;
        }
    }

    private YuvToRgb() {}

    /**
     * The {@code planes.width() × planes.height()} RGB picture, asking {@code stopRequested} every
     * {@value #ROWS_PER_STOP_CHECK} rows whether to give up.
     *
     * @throws IIOException when asked to stop
     */
    static RgbImage convert(Vp8Decoder.Planes planes, BooleanSupplier stopRequested) throws IIOException {
        int width = planes.width();
        int height = planes.height();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        int[] rowU = new int[width];
        int[] rowV = new int[width];
        for (int row = 0; row < height; row++) {
            if (row % ROWS_PER_STOP_CHECK == 0 && stopRequested.getAsBoolean()) {
                throw new IIOException("the decode was stopped");
            }
            // Output rows 2k-1 and 2k lie between chroma rows k-1 and k: the odd one nearer k-1, the even one nearer
            // k. Row 0 has only chroma row 0 around it, and the last row of an even height only the last one.
            int near = row / 2;
            int far;
            if (row % 2 == 1) {
                far = row == height - 1 ? near : near + 1;
            } else {
                far = row == 0 ? near : near - 1;
            }
            upsampleRow(planes.u(), near * planes.uvStride(), far * planes.uvStride(), rowU, width);
            upsampleRow(planes.v(), near * planes.uvStride(), far * planes.uvStride(), rowV, width);
            convertRow(planes.y(), row * planes.yStride(), rowU, rowV, rgb, row * width * 3, width);
        }
        return new RgbImage(width, height, rgb);
    }

    /**
     * Upsamples one row of chroma for an output row whose nearer chroma row starts at {@code plane[nearAt]} and
     * farther one at {@code plane[farAt]}, into {@code out[0, width)}.
     */
    private static void upsampleRow(byte[] plane, int nearAt, int farAt, int[] out, int width) {
        int nearLeft = plane[nearAt] & 0xFF;
        int farLeft = plane[farAt] & 0xFF;
        out[0] = (3 * nearLeft + farLeft + 2) >> 2;
        int lastPair = (width - 1) >> 1;
        for (int x = 1; x <= lastPair; x++) {
            int near = plane[nearAt + x] & 0xFF;
            int far = plane[farAt + x] & 0xFF;
            int sum = nearLeft + near + farLeft + far + 8;
            // The two diagonals' averages, each weighting its own pair twice.
            int towardsLeft = (sum + 2 * (near + farLeft)) >> 3;
            int towardsRight = (sum + 2 * (nearLeft + far)) >> 3;
            out[2 * x - 1] = (towardsLeft + nearLeft) >> 1;
            out[2 * x] = (towardsRight + near) >> 1;
            nearLeft = near;
            farLeft = far;
        }
        if ((width & 1) == 0) {
            out[width - 1] = (3 * nearLeft + farLeft + 2) >> 2;
        }
    }

    private static void convertRow(byte[] luma, int lumaAt, int[] rowU, int[] rowV, byte[] rgb, int rgbAt,
            int width) {
        for (int x = 0; x < width; x++) {
            int yTerm = Y_TERM[luma[lumaAt + x] & 0xFF];
            int u = rowU[x];
            int v = rowV[x];
            rgb[rgbAt++] = (byte) clip8(yTerm + V_TO_R[v]);
            rgb[rgbAt++] = (byte) clip8(yTerm - U_TO_G[u] - V_TO_G[v]);
            rgb[rgbAt++] = (byte) clip8(yTerm + U_TO_B[u]);
        }
    }

    /** libwebp's {@code MultHi}: the product, with 8 of its 16 fractional bits kept. */
    private static int multHi(int value, int coefficient) {
        return (value * coefficient) >> 8;
    }

    /** libwebp's {@code VP8Clip8}: drops the 6 fractional bits of a value in 0..255.98, else clamps. */
    private static int clip8(int value) {
        return (value & ~16383) == 0 ? value >> 6 : value < 0 ? 0 : 255;
    }
}
