package org.florence2j.task;

import java.util.regex.Pattern;
import org.florence2j.InvalidInputException;

/**
 * Location tokens {@code <loc_0>} … {@code <loc_999>}: a coordinate quantized into one of 1000 bins along the
 * image's width or height.
 *
 * <p>Quantization mirrors the reference's {@code BoxQuantizer} / {@code CoordinatesQuantizer} in {@code 'floor'}
 * mode ({@code processing_florence2.py}): {@code floor(x / (size / 1000))} clamped to {@code [0, 999]};
 * dequantization is the bin centre {@code (bin + 0.5) * (size / 1000)}. The reference does both on torch float32
 * tensors with a Python-float scalar, so the arithmetic here is float32 with the scalar rounded to float32.
 */
public final class LocationTokens {
    /** Bins along each axis (the reference's {@code NUM_BBOX_WIDTH_BINS} etc.). */
    public static final int BINS = 1000;
    /** Token id of {@code <loc_0>}; {@code <loc_N>} is {@code FIRST_ID + N} (after {@code <od></od><ocr></ocr>}). */
    public static final int FIRST_ID = 50269;

    private static final Pattern REGION = Pattern.compile("(<loc_(0|[1-9][0-9]{0,2})>){4}");

    private LocationTokens() {
    }

    /** The token id of {@code <loc_bin>}. */
    public static int tokenId(int bin) {
        checkBin(bin);
        return FIRST_ID + bin;
    }

    /** Whether {@code tokenId} is one of the 1000 location tokens. */
    public static boolean isLocationToken(int tokenId) {
        return tokenId >= FIRST_ID && tokenId < FIRST_ID + BINS;
    }

    /** The bin of a location token id, or -1 when the id is not a location token. */
    public static int binOf(int tokenId) {
        return isLocationToken(tokenId) ? tokenId - FIRST_ID : -1;
    }

    /** The token text {@code <loc_bin>}. */
    public static String token(int bin) {
        checkBin(bin);
        return "<loc_" + bin + ">";
    }

    /**
     * The bin of a pixel coordinate along an axis of {@code size} pixels, floor mode, clamped to {@code [0, 999]}.
     *
     * @throws InvalidInputException when the coordinate is not finite or the size is not positive
     */
    public static int quantize(float coordinate, int size) {
        if (!Float.isFinite(coordinate)) {
            throw new InvalidInputException("region coordinate " + coordinate + " is not a finite number");
        }
        if (size <= 0) {
            throw new InvalidInputException("image size " + size + " must be positive to quantize a region");
        }
        float bin = (float) Math.floor(coordinate / binSize(size));
        return (int) Math.min(Math.max(bin, 0f), BINS - 1);
    }

    /**
     * The pixel coordinate of a bin's centre along an axis of {@code size} pixels. Bins outside {@code [0, 999]}
     * are not clamped: the reference does not clamp them either.
     */
    public static float dequantize(long bin, int size) {
        return ((float) bin + 0.5f) * binSize(size);
    }

    /**
     * Whether {@code text} is a region as a {@code REGION_TO_*} task reads it: exactly four location tokens, each
     * spelt as the tokenizer knows it ({@code <loc_7>}, not {@code <loc_007>}).
     */
    public static boolean isRegion(String text) {
        return REGION.matcher(text).matches();
    }

    /**
     * The four location tokens of a pixel box, {@code <loc_x0><loc_y0><loc_x1><loc_y1>}: the text of a
     * {@code REGION_TO_*} task.
     *
     * @throws InvalidInputException naming the region when a coordinate is not finite or the size not positive
     */
    public static String region(Box box, int width, int height) {
        try {
            return token(quantize(box.xMin(), width)) + token(quantize(box.yMin(), height))
                    + token(quantize(box.xMax(), width)) + token(quantize(box.yMax(), height));
        } catch (InvalidInputException e) {
            throw new InvalidInputException(
                    "region " + box + " on a " + width + "x" + height + " image: " + e.getMessage(), e);
        }
    }

    /** Pixels per bin, {@code size / 1000} in double rounded to float32 as torch does with a Python scalar. */
    private static float binSize(int size) {
        return (float) ((double) size / BINS);
    }

    private static void checkBin(int bin) {
        if (bin < 0 || bin >= BINS) {
            throw new IllegalArgumentException("location bin " + bin + " outside [0, " + (BINS - 1) + "]");
        }
    }
}
