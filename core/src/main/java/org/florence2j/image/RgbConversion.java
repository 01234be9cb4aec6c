package org.florence2j.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * Turns any decoded {@link BufferedImage} into 8-bit {@link RgbImage}, the way users of the reference do with
 * PIL's {@code Image.open(path).convert("RGB")}:
 * <ul>
 *   <li>alpha is dropped, not composited on a background (PIL's RGBA→RGB and LA→RGB);</li>
 *   <li>palette images take their palette colours, transparent entries included (PIL's P→RGB);</li>
 *   <li>grayscale is copied to R, G and B (PIL's L→RGB);</li>
 *   <li>16-bit samples keep their high byte (PIL's {@code RGB;16B} unpacker does this for 16-bit RGB PNGs; for
 *       16-bit grayscale PIL instead saturates at 255, which whitens almost every pixel, so we scale instead);</li>
 *   <li>samples are read raw, ignoring any embedded ICC profile or gamma, as PIL does.</li>
 * </ul>
 * Java2D is deliberately not used for the common cases: it treats 8-bit grayscale as linear and would
 * gamma-correct it when drawing onto an RGB image. 8- and 16-bit CMYK (as the TIFF reader gives it; a CMYK JPEG
 * goes to {@link CmykJpeg}) is converted as PIL's {@code cmyk2rgb} converts it ({@link #cmykToRgb}), ignoring any
 * profile. Other colour spaces go through Java2D's conversion to sRGB.
 */
final class RgbConversion {
    private RgbConversion() {}

    static RgbImage toRgb(BufferedImage image) {
        int width = image.getWidth();
        int height = image.getHeight();
        ColorModel model = image.getColorModel();
        int colorSpaceType = model.getColorSpace().getType();
        // A ColorModel made with ColorModel(int) keeps no channel sizes to scale raw samples by; only it can say
        // what its pixels are.
        boolean sized = model.getComponentSize() != null;
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        if (model instanceof IndexColorModel palette) {
            fromPalette(image.getRaster(), palette, rgb);
        } else if (sized && colorSpaceType == ColorSpace.TYPE_GRAY && model.getNumColorComponents() == 1) {
            fromBands(image.getRaster(), model, new int[] {0, 0, 0}, rgb);
        } else if (sized && colorSpaceType == ColorSpace.TYPE_RGB && model.getNumColorComponents() == 3
                && !model.isAlphaPremultiplied()) {
            fromBands(image.getRaster(), model, new int[] {0, 1, 2}, rgb);
        } else if (sized && colorSpaceType == ColorSpace.TYPE_CMYK && model.getNumColorComponents() == 4
                && !model.isAlphaPremultiplied() && cmykBits(model) > 0) {
            fromCmyk(image.getRaster(), cmykBits(model), rgb);
        } else {
            fromJava2d(image, rgb);
        }
        return new RgbImage(width, height, rgb);
    }

    private static void fromPalette(Raster raster, IndexColorModel palette, byte[] rgb) {
        int width = raster.getWidth();
        int[] indices = new int[width];
        for (int y = 0; y < raster.getHeight(); y++) {
            raster.getSamples(0, y, width, 1, 0, indices);
            int at = y * width * 3;
            for (int x = 0; x < width; x++) {
                int index = indices[x];
                if (index >= palette.getMapSize()) {
                    // PIL's palette is black past the file's entries; IndexColorModel would wrap the index instead.
                    at += 3;
                    continue;
                }
                rgb[at++] = (byte) palette.getRed(index);
                rgb[at++] = (byte) palette.getGreen(index);
                rgb[at++] = (byte) palette.getBlue(index);
            }
        }
    }

    /** Output channel {@code c} takes raster band {@code bandOf[c]}, scaled from its bit depth to 8 bits. */
    private static void fromBands(Raster raster, ColorModel model, int[] bandOf, byte[] rgb) {
        int width = raster.getWidth();
        int[] samples = new int[width];
        for (int channel = 0; channel < 3; channel++) {
            int band = bandOf[channel];
            int bits = model.getComponentSize(band);
            for (int y = 0; y < raster.getHeight(); y++) {
                raster.getSamples(0, y, width, 1, band, samples);
                int at = y * width * 3 + channel;
                for (int x = 0; x < width; x++, at += 3) {
                    rgb[at] = (byte) to8Bits(samples[x], bits);
                }
            }
        }
    }

    /**
     * The bits of each of a CMYK model's four colour bands where Pillow reads such samples (8, or 16 of which its
     * {@code CMYK;16L}/{@code CMYK;16B} unpackers keep the high byte), else 0.
     */
    private static int cmykBits(ColorModel model) {
        int bits = model.getComponentSize(0);
        for (int band = 1; band < 4; band++) {
            if (model.getComponentSize(band) != bits) {
                return 0;
            }
        }
        return bits == 8 || bits == 16 ? bits : 0;
    }

    /**
     * Bands 0 to 3 are C, M, Y and K of {@code bits} bits as Pillow holds them (0: no ink), 16-bit ones cut to their
     * high byte as Pillow's unpackers cut them; a band after them is alpha.
     */
    private static void fromCmyk(Raster raster, int bits, byte[] rgb) {
        int width = raster.getWidth();
        int[][] inks = new int[3][width];
        int[] black = new int[width];
        for (int y = 0; y < raster.getHeight(); y++) {
            for (int band = 0; band < 3; band++) {
                raster.getSamples(0, y, width, 1, band, inks[band]);
            }
            raster.getSamples(0, y, width, 1, 3, black);
            int at = y * width * 3;
            for (int x = 0; x < width; x++) {
                int k = to8Bits(black[x], bits);
                rgb[at++] = (byte) cmykToRgb(to8Bits(inks[0][x], bits), k);
                rgb[at++] = (byte) cmykToRgb(to8Bits(inks[1][x], bits), k);
                rgb[at++] = (byte) cmykToRgb(to8Bits(inks[2][x], bits), k);
            }
        }
    }

    /**
     * One RGB channel from its CMYK ink and black, as Pillow's {@code cmyk2rgb} (Convert.c) computes it: what the
     * black leaves, {@code 255 - black}, less the ink's share of it, rounded as its {@code MULDIV255}. No profile, no
     * undercolour: a naive conversion, which is what the reference's users get from {@code convert("RGB")}.
     */
    static int cmykToRgb(int ink, int black) {
        int white = 255 - black;
        int product = ink * white + 128;
        return white - (((product >> 8) + product) >> 8);
    }

    private static int to8Bits(int sample, int bits) {
        if (bits == 8) {
            return sample;
        }
        if (bits > 8) {
            return sample >>> (bits - 8);
        }
        // Pillow's unpackers (BGR;15, BGR;16 for 16-bit BMP) truncate; for 1, 2 and 4 bits 255 divides evenly.
        int max = (1 << bits) - 1;
        return sample * 255 / max;
    }

    private static void fromJava2d(BufferedImage image, byte[] rgb) {
        int width = image.getWidth();
        int[] argb = new int[width];
        for (int y = 0; y < image.getHeight(); y++) {
            image.getRGB(0, y, width, 1, argb, 0, width);
            int at = y * width * 3;
            for (int x = 0; x < width; x++) {
                rgb[at++] = (byte) (argb[x] >> 16);
                rgb[at++] = (byte) (argb[x] >> 8);
                rgb[at++] = (byte) argb[x];
            }
        }
    }
}
