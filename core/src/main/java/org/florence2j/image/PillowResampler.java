package org.florence2j.image;

import java.util.stream.IntStream;
import org.florence2j.bindings.Libm;

/**
 * Resizes an {@link RgbImage} exactly as Pillow's {@code Image.resize(size, resample)} does for a mode-"RGB" image,
 * byte for byte: the reference's {@code CLIPImageProcessor} hands its uint8 image to PIL for the resize, so any
 * other interpolation would shift every pixel value the vision tower sees.
 *
 * <p>Mirrors {@code src/libImaging/Resample.c} ({@code ImagingResampleInner}, {@code precompute_coeffs},
 * {@code normalize_coeffs_8bpc}, {@code ImagingResample{Horizontal,Vertical}_8bpc}): a separable convolution,
 * horizontal pass first into an 8-bit intermediate image (rounded and clipped, as Pillow does), then vertical
 * (vertical first for an image over 100 times taller than wide whose height shrinks, as Pillow 12.3 does).
 * The filter is stretched by the scale when downscaling (antialiasing). Weights are computed in double, normalised
 * to sum 1, then turned into fixed point with {@value #PRECISION_BITS} fractional bits; each output is
 * {@code clip8((2^(bits-1) + Σ sample·weight) >> bits)}. Only the rows the vertical pass reads are computed in the
 * horizontal pass, as Pillow does; that changes nothing but the work.
 */
public final class PillowResampler {
    /** Pillow's {@code PRECISION_BITS}: 32 bits minus 8 for the result minus 2 of headroom for overshoot. */
    static final int PRECISION_BITS = 32 - 8 - 2;

    /** Multiply-adds per pass above which rows are computed in parallel. */
    private static final long PARALLEL_WORK = 1L << 22;

    /**
     * The resampling filters this class reproduces, with Pillow's {@code Image.Resampling} ids and supports
     * ({@code Resample.c}'s filter table); the ones using {@code sin}/{@code cos} call the C library's, as Pillow
     * does.
     */
    public enum Filter {
        /** {@code Image.LANCZOS} (1): sinc windowed by sinc, support 3. */
        LANCZOS(1, 3.0),
        /** {@code Image.BILINEAR} (2): triangle filter, support 1. */
        BILINEAR(2, 1.0),
        /** {@code Image.BICUBIC} (3): Keys cubic with a = -0.5, support 2. */
        BICUBIC(3, 2.0),
        /** {@code Image.BOX} (4): each source pixel weighs the same, support 0.5. */
        BOX(4, 0.5),
        /** {@code Image.HAMMING} (5): sinc windowed by a Hamming window, support 1. */
        HAMMING(5, 1.0);

        private final int pillowId;
        private final double support;

        Filter(int pillowId, double support) {
            this.pillowId = pillowId;
            this.support = support;
        }

        /** The id Pillow and {@code preprocessor_config.json}'s {@code resample} use. */
        public int pillowId() {
            return pillowId;
        }

        /**
         * The filter for a Pillow resample id.
         *
         * @throws IllegalArgumentException for 0 (nearest: Pillow resamples it by an affine transform, not this
         *                                  convolution) and unknown ids
         */
        public static Filter ofPillowId(int id) {
            for (Filter filter : values()) {
                if (filter.pillowId == id) {
                    return filter;
                }
            }
            throw new IllegalArgumentException("resample " + id + " is not supported: florence2j reproduces "
                    + "Pillow's LANCZOS (1), BILINEAR (2), BICUBIC (3), BOX (4) and HAMMING (5) exactly; Florence-2"
                    + " checkpoints use 3");
        }

        double weight(double x) {
            return switch (this) {
                case LANCZOS -> lanczos(x);
                case BILINEAR -> bilinear(x);
                case BICUBIC -> bicubic(x);
                case BOX -> box(x);
                case HAMMING -> hamming(x);
            };
        }

        // Pillow's box_filter: the interval is half-open on the left.
        private static double box(double x) {
            return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
        }

        // Pillow's hamming_filter, whose 0.54f and 0.46f are float constants widened to double, as here.
        private static double hamming(double x) {
            double distance = Math.abs(x);
            if (distance == 0.0) {
                return 1.0;
            }
            if (distance >= 1.0) {
                return 0.0;
            }
            double angle = distance * Math.PI;
            return Libm.sin(angle) / angle * (0.54f + 0.46f * Libm.cos(angle));
        }

        // Pillow's lanczos_filter: a sinc truncated to [-3, 3), times the sinc of a third.
        private static double lanczos(double x) {
            return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
        }

        private static double sinc(double x) {
            if (x == 0.0) {
                return 1.0;
            }
            double angle = x * Math.PI;
            return Libm.sin(angle) / angle;
        }

        private static double bilinear(double x) {
            double distance = Math.abs(x);
            return distance < 1.0 ? 1.0 - distance : 0.0;
        }

        // Pillow's bicubic_filter, operation for operation so the doubles round the same way.
        private static double bicubic(double x) {
            final double a = -0.5;
            double distance = Math.abs(x);
            if (distance < 1.0) {
                return ((a + 2.0) * distance - (a + 3.0)) * distance * distance + 1;
            }
            if (distance < 2.0) {
                return (((distance - 5) * distance + 8) * distance - 4) * a;
            }
            return 0.0;
        }
    }

    /**
     * Fixed-point weights of one pass: output position {@code i} reads {@code count[i]} input positions starting at
     * {@code first[i]}, with weights {@code weights[i * taps .. i * taps + count[i])}.
     */
    private record Coefficients(int taps, int[] first, int[] count, int[] weights) {}

    private PillowResampler() {}

    /**
     * {@code image} resized to {@code width × height} (aspect ratio not kept). Returns {@code image} itself when the
     * size already matches, as Pillow returns a copy.
     */
    public static RgbImage resize(RgbImage image, int width, int height, Filter filter) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("resize target must be positive: " + width + "x" + height);
        }
        boolean horizontal = width != image.width();
        boolean vertical = height != image.height();
        if (!horizontal && !vertical) {
            return image;
        }
        if (horizontal && vertical && isTallShrink(image, height)) {
            byte[] shrunk = resampleVertical(image.pixels(), image.width(), 0,
                    coefficients(image.height(), height, filter), height);
            return new RgbImage(width, height, resampleHorizontal(shrunk, image.width(), 0, height,
                    coefficients(image.width(), width, filter), width));
        }
        Coefficients rows = coefficients(image.height(), height, filter);
        byte[] source = image.pixels();
        int sourceRowFirst = 0;
        int sourceRows = image.height();
        if (horizontal) {
            // Pillow resamples only the source rows the vertical pass will read: [firstRow, lastRow).
            int firstRow = rows.first()[0];
            int lastRow = rows.first()[height - 1] + rows.count()[height - 1];
            source = resampleHorizontal(image.pixels(), image.width(), firstRow, lastRow - firstRow,
                    coefficients(image.width(), width, filter), width);
            sourceRowFirst = firstRow;
            sourceRows = lastRow - firstRow;
        }
        if (!vertical) {
            return new RgbImage(width, sourceRows, source);
        }
        return new RgbImage(width, height, resampleVertical(source, width, sourceRowFirst, rows, height));
    }

    /**
     * Pillow's {@code Image.resize} resizes an image over 100 times taller than wide vertically first when it shrinks
     * its height (two calls of the core resize, one pass each): so does Pillow 12.3, against which this was checked,
     * where Pillow 11 went horizontally first.
     */
    private static boolean isTallShrink(RgbImage image, int height) {
        return image.height() > image.width() * 100L && height < image.height();
    }

    // precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize) mapped onto outSize positions.
    private static Coefficients coefficients(int inSize, int outSize, Filter filter) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support * filterScale;
        int taps = (int) Math.ceil(support) * 2 + 1;
        int[] first = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[outSize * taps];
        double[] k = new double[taps];
        for (int out = 0; out < outSize; out++) {
            double center = (out + 0.5) * scale;
            double inverseFilterScale = 1.0 / filterScale;
            // (int) truncates toward zero like C's cast; Pillow relies on that for its rounding here.
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++) {
                double w = filter.weight((x + xmin - center + 0.5) * inverseFilterScale);
                k[x] = w;
                sum += w;
            }
            for (int x = 0; x < xmax; x++) {
                double normalised = sum != 0.0 ? k[x] / sum : k[x];
                double fixed = normalised * (1 << PRECISION_BITS);
                weights[out * taps + x] = (int) (normalised < 0 ? -0.5 + fixed : 0.5 + fixed);
            }
            first[out] = xmin;
            count[out] = xmax;
        }
        return new Coefficients(taps, first, count, weights);
    }

    // ImagingResampleHorizontal_8bpc over rows [firstRow, firstRow + rowCount) of an RGB image.
    private static byte[] resampleHorizontal(byte[] in, int inWidth, int firstRow, int rowCount, Coefficients c,
            int outWidth) {
        byte[] out = new byte[rowCount * outWidth * 3];
        rows(rowCount, (long) outWidth * c.taps()).forEach(row -> {
            int inRow = (firstRow + row) * inWidth * 3;
            int outRow = row * outWidth * 3;
            for (int x = 0; x < outWidth; x++) {
                int base = x * c.taps();
                int start = inRow + c.first()[x] * 3;
                int r = 1 << (PRECISION_BITS - 1);
                int g = r;
                int b = r;
                for (int tap = 0; tap < c.count()[x]; tap++) {
                    int w = c.weights()[base + tap];
                    int at = start + tap * 3;
                    r += (in[at] & 0xFF) * w;
                    g += (in[at + 1] & 0xFF) * w;
                    b += (in[at + 2] & 0xFF) * w;
                }
                out[outRow + x * 3] = clip8(r);
                out[outRow + x * 3 + 1] = clip8(g);
                out[outRow + x * 3 + 2] = clip8(b);
            }
        });
        return out;
    }

    // ImagingResampleVertical_8bpc; the input holds source rows from rowOffset on (Pillow's shifted bounds).
    private static byte[] resampleVertical(byte[] in, int width, int rowOffset, Coefficients c, int outHeight) {
        int rowBytes = width * 3;
        byte[] out = new byte[outHeight * rowBytes];
        rows(outHeight, (long) rowBytes * c.taps()).forEach(y -> {
            int base = y * c.taps();
            int firstRow = c.first()[y] - rowOffset;
            for (int i = 0; i < rowBytes; i++) {
                int sum = 1 << (PRECISION_BITS - 1);
                for (int tap = 0; tap < c.count()[y]; tap++) {
                    sum += (in[(firstRow + tap) * rowBytes + i] & 0xFF) * c.weights()[base + tap];
                }
                out[y * rowBytes + i] = clip8(sum);
            }
        });
        return out;
    }

    /**
     * Output rows {@code [0, count)}, spread over the common fork-join pool when the pass is big enough to gain
     * from it (a phone photo to 768x768 is ~10^8 multiply-adds). Each row is written by one task and depends only
     * on the input, so the result is the same either way.
     */
    private static IntStream rows(int count, long workPerRow) {
        IntStream rows = IntStream.range(0, count);
        return count * workPerRow >= PARALLEL_WORK ? rows.parallel() : rows;
    }

    // Pillow's clip8: the arithmetic shift drops the fraction (the bias added up front made it round), then clamp.
    private static byte clip8(int fixed) {
        return (byte) Math.clamp(fixed >> PRECISION_BITS, 0, 255);
    }
}
