package org.florence2j.image;

import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;

/**
 * One transform of a WebP lossless image (RFC 9649 section 4), undone as libwebp's {@code VP8LInverseTransform}
 * ({@code src/dsp/lossless.c}) undoes it: the predictor transform (the first pixel predicted black, the rest of the
 * first row from the left, the first column from above, the rest by its tile's mode: 0 to 13, and 14 and 15 as 0;
 * the top-right pixel of a row's last pixel is the first pixel of its own row), the cross-colour transform, the
 * subtract-green transform, and colour indexing (indices bundled 8, 4 or 2 to a pixel for palettes of at most 2, 4
 * or 16 colours; an index past the palette gives transparent black).
 *
 * @param type       {@link #PREDICTOR}, {@link #CROSS_COLOR}, {@link #SUBTRACT_GREEN} or {@link #COLOR_INDEXING}
 * @param width      the width of the image the transform gives back
 * @param bits       log2 of a tile's side, or of the indices bundled in a pixel
 * @param data       the tiles' modes or multipliers, or the palette (of {@code 1 << (8 >> bits)} colours)
 */
record Vp8lTransform(int type, int width, int bits, int[] data) {
    static final int PREDICTOR = 0;
    static final int CROSS_COLOR = 1;
    static final int SUBTRACT_GREEN = 2;
    static final int COLOR_INDEXING = 3;
    private static final int ROWS_PER_STOP_CHECK = 16;
    private static final int BLACK = 0xFF00_0000;

    /** The width of the image the transform takes: narrower than {@link #width} when colour indices are bundled. */
    int codedWidth() {
        return type == COLOR_INDEXING ? Vp8lDecoder.subSampleSize(width, bits) : width;
    }

    /** The palette of {@code 1 << (8 >> bits)} colours whose first ones are coded as deltas in {@code coded}. */
    static int[] palette(int[] coded, int bits) {
        int[] palette = new int[1 << (8 >> bits)];
        palette[0] = coded[0];
        for (int i = 1; i < coded.length; i++) {
            palette[i] = add(coded[i], palette[i - 1]);
        }
        return palette;
    }

    /**
     * Undoes the transform on {@code pixels} ([height, codedWidth()] ARGB, overwritten), asking {@code stopRequested}
     * every 16 rows whether to give up; the pixels it gives back are [height, width].
     */
    int[] undo(int[] pixels, int height, BooleanSupplier stopRequested) throws IIOException {
        int[] out = type == COLOR_INDEXING && bits > 0 ? new int[width * height] : pixels;
        for (int y = 0; y < height; y++) {
            if (y % ROWS_PER_STOP_CHECK == 0) {
                Vp8lDecoder.checkStop(stopRequested);
            }
            switch (type) {
                case PREDICTOR -> predictRow(pixels, y);
                case CROSS_COLOR -> crossColorRow(pixels, y);
                case SUBTRACT_GREEN -> addGreenRow(pixels, y);
                default -> indexRow(pixels, out, y);
            }
        }
        return out;
    }

    private void predictRow(int[] pixels, int y) {
        int row = y * width;
        if (y == 0) {
            pixels[0] = add(pixels[0], BLACK);
            for (int x = 1; x < width; x++) {
                pixels[x] = add(pixels[x], pixels[x - 1]);
            }
            return;
        }
        pixels[row] = add(pixels[row], pixels[row - width]);
        int tilesPerRow = Vp8lDecoder.subSampleSize(width, bits);
        int modes = (y >> bits) * tilesPerRow;
        for (int x = 1; x < width; x++) {
            int mode = data[modes + (x >> bits)] >> 8 & 0xF;
            int at = row + x;
            pixels[at] = add(pixels[at], predict(mode, pixels, at, width));
        }
    }

    private static int predict(int mode, int[] pixels, int at, int width) {
        int left = pixels[at - 1];
        int top = pixels[at - width];
        return switch (mode) {
            case 1 -> left;
            case 2 -> top;
            case 3 -> pixels[at - width + 1];
            case 4 -> pixels[at - width - 1];
            case 5 -> average(average(left, pixels[at - width + 1]), top);
            case 6 -> average(left, pixels[at - width - 1]);
            case 7 -> average(left, top);
            case 8 -> average(pixels[at - width - 1], top);
            case 9 -> average(top, pixels[at - width + 1]);
            case 10 -> average(average(left, pixels[at - width - 1]), average(top, pixels[at - width + 1]));
            case 11 -> select(top, left, pixels[at - width - 1]);
            case 12 -> clampedAddSubtractFull(left, top, pixels[at - width - 1]);
            case 13 -> clampedAddSubtractHalf(average(left, top), pixels[at - width - 1]);
            default -> BLACK; // 0, and 14 and 15, which libwebp maps to 0
        };
    }

    private void crossColorRow(int[] pixels, int y) {
        int tilesPerRow = Vp8lDecoder.subSampleSize(width, bits);
        int multipliers = (y >> bits) * tilesPerRow;
        for (int x = 0, at = y * width; x < width; x++, at++) {
            int code = data[multipliers + (x >> bits)];
            int greenToRed = (byte) code;
            int greenToBlue = (byte) (code >> 8);
            int redToBlue = (byte) (code >> 16);
            int argb = pixels[at];
            int green = (byte) (argb >> 8);
            int red = (argb >> 16) + (greenToRed * green >> 5) & 0xFF;
            int blue = (argb + (greenToBlue * green >> 5) + (redToBlue * (byte) red >> 5)) & 0xFF;
            pixels[at] = argb & 0xFF00_FF00 | red << 16 | blue;
        }
    }

    private void addGreenRow(int[] pixels, int y) {
        for (int at = y * width, end = at + width; at < end; at++) {
            int argb = pixels[at];
            int green = argb >> 8 & 0xFF;
            int redBlue = (argb & 0x00FF_00FF) + (green << 16 | green) & 0x00FF_00FF;
            pixels[at] = argb & 0xFF00_FF00 | redBlue;
        }
    }

    private void indexRow(int[] pixels, int[] out, int y) {
        int at = y * width;
        if (bits == 0) {
            for (int end = at + width; at < end; at++) {
                out[at] = data[pixels[at] >> 8 & 0xFF];
            }
            return;
        }
        int bitsPerIndex = 8 >> bits;
        int indexMask = (1 << bitsPerIndex) - 1;
        int countMask = (1 << bits) - 1;
        int source = y * codedWidth();
        int packed = 0;
        for (int x = 0; x < width; x++, at++) {
            if ((x & countMask) == 0) {
                packed = pixels[source++] >> 8 & 0xFF;
            }
            out[at] = data[packed & indexMask];
            packed >>= bitsPerIndex;
        }
    }

    /** The per-channel sum, modulo 256, of two ARGB pixels. */
    private static int add(int a, int b) {
        int alphaGreen = (a & 0xFF00_FF00) + (b & 0xFF00_FF00);
        int redBlue = (a & 0x00FF_00FF) + (b & 0x00FF_00FF);
        return alphaGreen & 0xFF00_FF00 | redBlue & 0x00FF_00FF;
    }

    /** The per-channel mean, rounded down, of two ARGB pixels. */
    private static int average(int a, int b) {
        return (((a ^ b) & 0xFEFE_FEFE) >>> 1) + (a & b);
    }

    /** {@code top} when its channels are in sum no farther from {@code left + top - topLeft} than left's are. */
    private static int select(int top, int left, int topLeft) {
        int topMinusLeftDistance = 0;
        for (int shift = 0; shift < 32; shift += 8) {
            int t = top >>> shift & 0xFF;
            int l = left >>> shift & 0xFF;
            int tl = topLeft >>> shift & 0xFF;
            topMinusLeftDistance += Math.abs(l - tl) - Math.abs(t - tl);
        }
        return topMinusLeftDistance <= 0 ? top : left;
    }

    private static int clampedAddSubtractFull(int a, int b, int c) {
        int result = 0;
        for (int shift = 0; shift < 32; shift += 8) {
            int value = (a >>> shift & 0xFF) + (b >>> shift & 0xFF) - (c >>> shift & 0xFF);
            result |= clamp(value) << shift;
        }
        return result;
    }

    private static int clampedAddSubtractHalf(int a, int b) {
        int result = 0;
        for (int shift = 0; shift < 32; shift += 8) {
            int ac = a >>> shift & 0xFF;
            int value = ac + (ac - (b >>> shift & 0xFF)) / 2;
            result |= clamp(value) << shift;
        }
        return result;
    }

    private static int clamp(int value) {
        return value < 0 ? 0 : Math.min(value, 255);
    }
}
