package org.florence2j.image;

import java.awt.image.Raster;
import java.io.EOFException;
import java.io.IOException;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * A four-component JPEG decoded as Pillow decodes it. libjpeg reads the samples as CMYK, or as YCCK (converted to CMYK
 * with libjpeg-turbo's fixed-point tables) where an Adobe APP14 marker's transform is not 0; Pillow then always
 * inverts them (its {@code CMYK;I} raw mode, Adobe's polarity) and converts to RGB naively
 * ({@link RgbConversion#cmykToRgb}), ignoring any embedded ICC profile. TwelveMonkeys' reader instead converts
 * through the embedded profile (a made-up printing profile moved a test image by 54 of 255 on average) or its own
 * generic conversion (1 off in half the samples), so only its unconverted samples ({@link ImageReader#readRaster}) are
 * used here.
 */
final class CmykJpeg {
    private static final int SOI = 0xD8;
    private static final int SOS = 0xDA;
    private static final int EOI = 0xD9;
    private static final int APP14 = 0xEE;
    /** libjpeg-turbo's {@code jdcolor.c}: 16 fraction bits, rounding by half. */
    private static final int SCALE_BITS = 16;
    private static final int ONE_HALF = 1 << (SCALE_BITS - 1);
    private static final int[] CR_RED = new int[256];
    private static final int[] CB_BLUE = new int[256];
    private static final int[] CR_GREEN = new int[256];
    private static final int[] CB_GREEN = new int[256];

    static {
        // build_ycc_rgb_table, with FIX(x) = (int) (x · 2^16 + 0.5).
        for (int i = 0; i < 256; i++) {
            int x = i - 128;
            CR_RED[i] = (fix(1.40200) * x + ONE_HALF) >> SCALE_BITS;
            CB_BLUE[i] = (fix(1.77200) * x + ONE_HALF) >> SCALE_BITS;
            CR_GREEN[i] = -fix(0.71414) * x;
            CB_GREEN[i] = -fix(0.34414) * x + ONE_HALF;
        }
    }

    private final boolean ycck;

    private CmykJpeg(boolean ycck) {
        this.ycck = ycck;
    }

    /**
     * Reads the JPEG's markers up to its first scan, as libjpeg does, and leaves the stream where it was. Null when the
     * frame does not have four components, or the markers cannot be read (the reader then reports what is wrong).
     */
    static CmykJpeg read(ImageInputStream stream) throws IOException {
        stream.mark();
        try {
            return scan(stream);
        } catch (EOFException e) {
            return null;
        } finally {
            stream.reset();
        }
    }

    private static CmykJpeg scan(ImageInputStream stream) throws IOException {
        if (stream.read() != 0xFF || stream.read() != SOI) {
            return null;
        }
        int components = -1;
        int adobeTransform = -1; // -1: no Adobe marker; the last one before the scan counts, as in libjpeg
        while (true) {
            int marker = nextMarker(stream);
            if (marker == SOS || marker == EOI) {
                break;
            }
            if (marker == 0x01 || marker >= 0xD0 && marker <= 0xD7) {
                continue; // standalone markers: no length
            }
            int length = stream.readUnsignedShort();
            if (length < 2) {
                return null;
            }
            long end = stream.getStreamPosition() + length - 2;
            if (isStartOfFrame(marker) && length >= 8) {
                stream.skipBytes(5); // precision, height, width
                components = stream.readUnsignedByte();
            } else if (marker == APP14 && length - 2 >= 12) {
                byte[] data = new byte[12];
                stream.readFully(data);
                if (data[0] == 'A' && data[1] == 'd' && data[2] == 'o' && data[3] == 'b' && data[4] == 'e') {
                    adobeTransform = data[11] & 0xFF;
                }
            }
            stream.seek(end);
        }
        // jdapimin.c: four components are YCCK under an Adobe transform other than 0, else straight CMYK.
        return components == 4 ? new CmykJpeg(adobeTransform > 0) : null;
    }

    /**
     * The next marker's code, as libjpeg's {@code next_marker} (jdmarker.c) finds it: bytes other than 0xFF before it
     * are skipped (libjpeg warns of extraneous data and goes on, as Pillow's parser does), so are fill bytes, and so
     * is a stuffed FF 00 pair.
     */
    private static int nextMarker(ImageInputStream stream) throws IOException {
        while (true) {
            while (stream.readUnsignedByte() != 0xFF) {
                // extraneous data before the marker
            }
            int code;
            do {
                code = stream.readUnsignedByte();
            } while (code == 0xFF);
            if (code != 0) {
                return code;
            }
        }
    }

    private static boolean isStartOfFrame(int marker) {
        return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    }

    /** Decodes the image through {@code reader}, whose input is the stream {@link #read} scanned. */
    RgbImage decode(ImageReader reader) throws IOException {
        Raster raster = reader.readRaster(0, null);
        int width = raster.getWidth();
        int height = raster.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        int[] samples = new int[width * 4];
        int at = 0;
        for (int y = 0; y < height; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, width, 1, samples);
            for (int x = 0; x < width * 4; x += 4) {
                int cyan = samples[x];
                int magenta = samples[x + 1];
                int yellow = samples[x + 2];
                if (ycck) {
                    // ycck_cmyk_convert: the first three are Y, Cb and Cr; CMY = 255 - their RGB, K passes through.
                    int luma = samples[x];
                    int blueDifference = samples[x + 1];
                    int redDifference = samples[x + 2];
                    cyan = clamp(255 - (luma + CR_RED[redDifference]));
                    magenta = clamp(255 - (luma
                            + ((CB_GREEN[blueDifference] + CR_GREEN[redDifference]) >> SCALE_BITS)));
                    yellow = clamp(255 - (luma + CB_BLUE[blueDifference]));
                }
                // Pillow's CMYK;I raw mode: the samples inverted.
                int black = 255 - samples[x + 3];
                rgb[at++] = (byte) RgbConversion.cmykToRgb(255 - cyan, black);
                rgb[at++] = (byte) RgbConversion.cmykToRgb(255 - magenta, black);
                rgb[at++] = (byte) RgbConversion.cmykToRgb(255 - yellow, black);
            }
        }
        return new RgbImage(width, height, rgb);
    }

    private static int fix(double x) {
        return (int) (x * (1 << SCALE_BITS) + 0.5);
    }

    private static int clamp(int value) {
        return Math.max(0, Math.min(255, value));
    }
}
