package org.florence2j.image;

import com.twelvemonkeys.imageio.color.ColorSpaces;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * The small test images under {@code src/test/resources/images/} and the pixels each must decode to. Every image
 * is {@value #WIDTH}x{@value #HEIGHT}. Colour images draw {@link #red}, {@link #green}, {@link #blue} (smooth, so
 * JPEG stays close); grayscale ones {@link #gray}; palette ones {@link #paletteIndex}; the hand-written WebP and
 * the CMYK JPEG have patterns of their own. The files were written once by {@link #main} (run from the
 * {@code core} folder with the test classpath); they are committed so the tests read files as they are stored.
 */
final class TestImages {
    static final int WIDTH = 24;
    static final int HEIGHT = 16;
    /** Entries of the palette images; the palette colours are {@link #paletteColor}. */
    static final int PALETTE_SIZE = 16;

    /** Channel values of the lossless WebP: each pixel picks one of two values per channel by a bit pattern. */
    static final int[] WEBP_RED = {10, 230};
    static final int[] WEBP_GREEN = {40, 200};
    static final int[] WEBP_BLUE = {90, 160};

    private TestImages() {}

    static int red(int x, int y) {
        return x * 10 + 5;
    }

    static int green(int x, int y) {
        return 250 - y * 15;
    }

    static int blue(int x, int y) {
        return (x + y) * 6;
    }

    static int gray(int x, int y) {
        return (x * 7 + y * 5) & 0xFF;
    }

    /** A 16-bit sample whose high byte is {@code gray(x, y)} and whose low byte is not zero. */
    static int gray16(int x, int y) {
        return gray(x, y) << 8 | (x * 13 + 1) & 0xFF;
    }

    static int alpha(int x, int y) {
        return (x * 11 + y * 3) & 0xFF;
    }

    static int paletteIndex(int x, int y) {
        return (x / 3 + y / 2) % PALETTE_SIZE;
    }

    /** Palette entry {@code i} as 0xRRGGBB. */
    static int paletteColor(int i) {
        return (i * 16) << 16 | (255 - i * 8) << 8 | (i * 37) & 0xFF;
    }

    /** A test resource folder or file as a path, e.g. {@code "/images"}. */
    static Path resource(String name) {
        try {
            return Path.of(TestImages.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The RGB image the colour test images must decode to. */
    static RgbImage expectedRgb() {
        byte[] pixels = new byte[WIDTH * HEIGHT * 3];
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                int at = (y * WIDTH + x) * 3;
                pixels[at] = (byte) red(x, y);
                pixels[at + 1] = (byte) green(x, y);
                pixels[at + 2] = (byte) blue(x, y);
            }
        }
        return new RgbImage(WIDTH, HEIGHT, pixels);
    }

    /** The RGB image the grayscale test images must decode to. */
    static RgbImage expectedGray() {
        return expected((x, y) -> gray(x, y) * 0x010101);
    }

    /** The RGB image the palette test images must decode to. */
    static RgbImage expectedPalette() {
        return expected((x, y) -> paletteColor(paletteIndex(x, y)));
    }

    private interface Pattern {
        int rgb(int x, int y);
    }

    private static RgbImage expected(Pattern pattern) {
        byte[] pixels = new byte[WIDTH * HEIGHT * 3];
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                int rgb = pattern.rgb(x, y);
                int at = (y * WIDTH + x) * 3;
                pixels[at] = (byte) (rgb >> 16);
                pixels[at + 1] = (byte) (rgb >> 8);
                pixels[at + 2] = (byte) rgb;
            }
        }
        return new RgbImage(WIDTH, HEIGHT, pixels);
    }

    static BufferedImage rgb(int type) {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, type);
        WritableRaster raster = image.getRaster();
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                raster.setSample(x, y, 0, red(x, y));
                raster.setSample(x, y, 1, green(x, y));
                raster.setSample(x, y, 2, blue(x, y));
                if (raster.getNumBands() == 4) {
                    raster.setSample(x, y, 3, alpha(x, y));
                }
            }
        }
        return image;
    }

    static BufferedImage rgb16() {
        ComponentColorModel model = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false,
                false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = model.createCompatibleWritableRaster(WIDTH, HEIGHT);
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                raster.setSample(x, y, 0, red(x, y) << 8 | 0x7F);
                raster.setSample(x, y, 1, green(x, y) << 8 | 0xFF);
                raster.setSample(x, y, 2, blue(x, y) << 8 | 0x01);
            }
        }
        return new BufferedImage(model, raster, false, null);
    }

    static BufferedImage grayAlpha() {
        ComponentColorModel model = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY), true,
                false, Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster raster = model.createCompatibleWritableRaster(WIDTH, HEIGHT);
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                raster.setSample(x, y, 0, gray(x, y));
                raster.setSample(x, y, 1, alpha(x, y));
            }
        }
        return new BufferedImage(model, raster, false, null);
    }

    static BufferedImage gray(boolean sixteenBits) {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT,
                sixteenBits ? BufferedImage.TYPE_USHORT_GRAY : BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                image.getRaster().setSample(x, y, 0, sixteenBits ? gray16(x, y) : gray(x, y));
            }
        }
        return image;
    }

    /** A palette image whose entry 3 is fully transparent (its colour must still come through). */
    static BufferedImage palette() {
        byte[] r = new byte[PALETTE_SIZE];
        byte[] g = new byte[PALETTE_SIZE];
        byte[] b = new byte[PALETTE_SIZE];
        for (int i = 0; i < PALETTE_SIZE; i++) {
            r[i] = (byte) (paletteColor(i) >> 16);
            g[i] = (byte) (paletteColor(i) >> 8);
            b[i] = (byte) paletteColor(i);
        }
        IndexColorModel model = new IndexColorModel(8, PALETTE_SIZE, r, g, b, 3);
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_BYTE_INDEXED, model);
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                image.getRaster().setSample(x, y, 0, paletteIndex(x, y));
            }
        }
        return image;
    }

    /** Writes the committed test images into {@code args[0]} (default {@code src/test/resources/images}). */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/images");
        Files.createDirectories(dir);
        write(rgb(BufferedImage.TYPE_3BYTE_BGR), "png", dir.resolve("rgb.png"));
        write(rgb(BufferedImage.TYPE_4BYTE_ABGR), "png", dir.resolve("rgba.png"));
        write(rgb16(), "png", dir.resolve("rgb16.png"));
        write(gray(false), "png", dir.resolve("gray.png"));
        write(gray(true), "png", dir.resolve("gray16.png"));
        write(grayAlpha(), "png", dir.resolve("gray-alpha.png"));
        write(palette(), "png", dir.resolve("palette.png"));
        write(rgb(BufferedImage.TYPE_3BYTE_BGR), "bmp", dir.resolve("rgb.bmp"));
        write(palette(), "gif", dir.resolve("palette.gif"));
        write(rgb(BufferedImage.TYPE_3BYTE_BGR), "tiff", dir.resolve("rgb.tiff"));
        writeJpeg(rgb(BufferedImage.TYPE_3BYTE_BGR), dir.resolve("rgb.jpg"));
        writeJpeg(gray(false), dir.resolve("gray.jpg"));
        writeJpeg(cmyk(), dir.resolve("cmyk.jpg"));
        Files.write(dir.resolve("lossless.webp"), webpLossless());
    }

    /** Left half white (C=M=Y=K=0), right half pure cyan, in a generic CMYK profile. */
    static BufferedImage cmyk() {
        ComponentColorModel model = new ComponentColorModel(ColorSpaces.getColorSpace(ColorSpaces.CS_GENERIC_CMYK),
                false, false, Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
        WritableRaster raster = model.createCompatibleWritableRaster(WIDTH, HEIGHT);
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = WIDTH / 2; x < WIDTH; x++) {
                raster.setSample(x, y, 0, 255);
            }
        }
        return new BufferedImage(model, raster, false, null);
    }

    static int webpRed(int x, int y) {
        return WEBP_RED[y & 1];
    }

    static int webpGreen(int x, int y) {
        return WEBP_GREEN[x & 1];
    }

    static int webpBlue(int x, int y) {
        return WEBP_BLUE[(x + y) >> 2 & 1];
    }

    /**
     * A lossless WebP (VP8L, RFC 9649 section 3) written by hand, since no Java WebP encoder is at hand: no
     * transforms, no colour cache, one prefix-code group of "simple" codes, two 1-bit symbols each for green, red
     * and blue, and single (0-bit) symbols for alpha (255) and distance.
     */
    static byte[] webpLossless() {
        BitWriter bits = new BitWriter();
        bits.write(0x2f, 8);
        bits.write(WIDTH - 1, 14);
        bits.write(HEIGHT - 1, 14);
        bits.write(0, 1); // alpha_is_used
        bits.write(0, 3); // version
        bits.write(0, 1); // no transform
        bits.write(0, 1); // no colour cache
        bits.write(0, 1); // no meta prefix codes
        for (int[] symbols : new int[][] {WEBP_GREEN, WEBP_RED, WEBP_BLUE}) {
            bits.write(1, 1); // simple code
            bits.write(1, 1); // two symbols
            bits.write(1, 1); // first symbol has 8 bits
            bits.write(symbols[0], 8);
            bits.write(symbols[1], 8);
        }
        for (int symbol : new int[] {255, 0}) { // alpha, distance
            bits.write(1, 1);
            bits.write(0, 1); // one symbol
            bits.write(1, 1);
            bits.write(symbol, 8);
        }
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                bits.write(x & 1, 1);
                bits.write(y & 1, 1);
                bits.write((x + y) >> 2 & 1, 1);
            }
        }
        byte[] data = bits.toByteArray();
        int padded = data.length + (data.length & 1);
        ByteBuffer file = ByteBuffer.allocate(20 + padded).order(ByteOrder.LITTLE_ENDIAN);
        file.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(12 + padded);
        file.put("WEBPVP8L".getBytes(StandardCharsets.US_ASCII)).putInt(data.length).put(data);
        return file.array();
    }

    /** Packs bit fields least-significant bit first, as VP8L reads them. */
    private static final class BitWriter {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private long pending;
        private int pendingBits;

        void write(int value, int count) {
            pending |= (long) (value & ((1 << count) - 1)) << pendingBits;
            pendingBits += count;
            while (pendingBits >= 8) {
                out.write((int) pending & 0xFF);
                pending >>>= 8;
                pendingBits -= 8;
            }
        }

        byte[] toByteArray() {
            if (pendingBits > 0) {
                out.write((int) pending & 0xFF);
                pending = 0;
                pendingBits = 0;
            }
            return out.toByteArray();
        }
    }

    private static void write(BufferedImage image, String format, Path file) throws IOException {
        if (!ImageIO.write(image, format, file.toFile())) {
            throw new IOException("no " + format + " writer for " + image);
        }
    }

    private static void writeJpeg(BufferedImage image, Path file) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(1.0f);
        Files.deleteIfExists(file);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(image, null, null), param);
        } finally {
            writer.dispose();
        }
    }
}
