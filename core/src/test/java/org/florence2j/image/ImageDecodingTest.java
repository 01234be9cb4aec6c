package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each committed test image (see {@link TestImages}) decodes to the RGB pixels it was drawn with: exactly for
 * lossless formats, within a stated bound for JPEG. Alpha is dropped, palettes are looked up, gray is copied to
 * R, G and B without gamma, 16-bit samples keep their high byte. 16-bit BMPs (5- and 6-bit channels), JPEGs, lossy
 * and animated WebPs and images with an embedded colour profile decode byte for byte as Pillow decodes them
 * ({@code images/pillow-decoded.json}).
 */
class ImageDecodingTest {
    private static final Path IMAGES = TestImages.resource("/images");
    private static final ImageLoader LOADER = new ImageLoader();

    /** JPEG at quality 1.0 on these small patterns: measured worst error 9 (4:2:0 chroma on the colour image). */
    private static final int JPEG_MAX_ERROR = 12;
    /** The CMYK file is two flat halves; pixels next to the edge blur under the DCT, so only the interiors count. */
    private static final int CMYK_MAX_ERROR = 6;

    static Stream<Arguments> losslessFiles() {
        Supplier<RgbImage> rgb = TestImages::expectedRgb;
        Supplier<RgbImage> gray = TestImages::expectedGray;
        Supplier<RgbImage> palette = TestImages::expectedPalette;
        return Stream.of(
                Arguments.of("rgb.png", rgb),
                Arguments.of("rgba.png", rgb),
                Arguments.of("rgb16.png", rgb),
                Arguments.of("gray.png", gray),
                Arguments.of("gray16.png", gray),
                Arguments.of("gray-alpha.png", gray),
                Arguments.of("palette.png", palette),
                Arguments.of("palette.gif", palette),
                Arguments.of("rgb.bmp", rgb),
                Arguments.of("rgb.tiff", rgb),
                Arguments.of("lossless.webp", (Supplier<RgbImage>) ImageDecodingTest::expectedWebp));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("losslessFiles")
    void losslessFormatsDecodeExactly(String file, Supplier<RgbImage> expected) {
        assertEquals(expected.get(), LOADER.load(IMAGES.resolve(file)), file);
    }

    /**
     * The files Pillow decoded into {@code images/pillow-decoded.json} ({@code pillow_decoded.py}): 16-bit BMPs;
     * JPEGs of every chroma subsampling, baseline, progressive and CMYK; a JPEG and a WebP with an embedded ICC
     * profile, which Pillow ignores and the readers would otherwise convert through; lossy WebPs of qualities 1 to
     * 100, gray, with alpha, with 8 token partitions, the simple loop filter or sharp YUV, and of a size in no whole
     * macroblocks; GIFs whose first frame PIL places on a larger logical screen, one with a transparent index past
     * its palette, one with no palette at all, two whose pixels use indices past their colour table, and two whose
     * tables hold gray levels 0, 1, 2..., which PIL takes for no palette; PNGs whose
     * pixels use indices past their 2-entry palette; animated WebPs, lossy and lossless, whose first frame lies at an
     * offset on a larger canvas; CMYK JPEGs and a TIFF with a CMYK profile, which Pillow ignores, one JPEG read as
     * YCCK (its Adobe transform 2, or 1) and one without an Adobe marker; and PBM, PGM and PPM files, plain and raw,
     * of maxvals that scale, with comments and header numbers as Python reads them.
     */
    static Stream<String> pillowDecodedFiles() throws IOException {
        List<String> files = new ArrayList<>();
        pillowDecoded().fieldNames().forEachRemaining(files::add);
        files.remove("generator");
        assertEquals(59, files.size(), "files in pillow-decoded.json");
        return files.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pillowDecodedFiles")
    void decodesAsPillowDoes(String file) throws IOException {
        JsonNode expected = pillowDecoded().get(file);
        RgbImage decoded = LOADER.load(IMAGES.resolve(file));
        assertEquals(new RgbImage(expected.get("width").asInt(), expected.get("height").asInt(),
                Base64.getDecoder().decode(expected.get("rgb_base64").asText())), decoded, file);
    }

    /**
     * Bytes between a CMYK JPEG's header segments that libjpeg and Pillow's parser skip (other than 0xFF, fill bytes,
     * a stuffed FF 00): the file decodes as Pillow decodes it without them, not through the reader's own CMYK
     * conversion, which ends up converting through the embedded profile.
     */
    @ParameterizedTest(name = "{0}, {1} before {2}")
    @MethodSource("cmykJpegsWithExtraneousBytes")
    void extraneousBytesBetweenCmykJpegSegmentsAreSkipped(String file, String extra, String marker)
            throws IOException {
        byte[] jpeg = Files.readAllBytes(IMAGES.resolve(file));
        int at = segmentStart(jpeg, marker.equals("SOF") ? 0xC0 : 0xDA);
        byte[] bytes = HexFormat.of().parseHex(extra);
        byte[] edited = new byte[jpeg.length + bytes.length];
        System.arraycopy(jpeg, 0, edited, 0, at);
        System.arraycopy(bytes, 0, edited, at, bytes.length);
        System.arraycopy(jpeg, at, edited, at + bytes.length, jpeg.length - at);
        JsonNode expected = pillowDecoded().get(file);
        assertEquals(new RgbImage(expected.get("width").asInt(), expected.get("height").asInt(),
                Base64.getDecoder().decode(expected.get("rgb_base64").asText())), LOADER.load(edited, file), file);
    }

    static Stream<Arguments> cmykJpegsWithExtraneousBytes() {
        return Stream.of("cmyk-profile.jpg", "cmyk-ycck.jpg").flatMap(file -> Stream.of("00", "abcd", "ff00", "ffff00")
                .flatMap(extra -> Stream.of("SOF", "SOS").map(marker -> Arguments.of(file, extra, marker))));
    }

    /** Where the first segment of a baseline JPEG with the given marker code starts, following segment lengths. */
    private static int segmentStart(byte[] jpeg, int code) {
        int at = 2;
        while ((jpeg[at + 1] & 0xFF) != code) {
            at += 2 + ((jpeg[at + 2] & 0xFF) << 8 | jpeg[at + 3] & 0xFF);
        }
        return at;
    }

    /**
     * A 16-bit CMYK TIFF decodes as the 8-bit one of its high bytes, which Pillow's {@code CMYK;16} unpackers keep
     * (the 8-bit conversion is checked against Pillow above), also with an embedded CMYK profile that Pillow ignores.
     */
    @Test
    void sixteenBitCmykTiffKeepsTheHighBytes() throws IOException {
        byte[] jpeg = Files.readAllBytes(IMAGES.resolve("cmyk-profile.jpg"));
        int app2 = segmentStart(jpeg, 0xE2);
        int app2Length = (jpeg[app2 + 2] & 0xFF) << 8 | jpeg[app2 + 3] & 0xFF;
        byte[] profile = Arrays.copyOfRange(jpeg, app2 + 4 + 14, app2 + 2 + app2Length); // after ICC_PROFILE\0, 1, 1
        int width = 7;
        int height = 5;
        byte[] wide = new byte[width * height * 8];
        new Random(16).nextBytes(wide);
        byte[] high = new byte[width * height * 4];
        for (int i = 0; i < high.length; i++) {
            high[i] = wide[2 * i + 1]; // little-endian samples
        }
        for (byte[] iccProfile : new byte[][] {null, profile}) {
            assertEquals(LOADER.load(cmykTiff(width, height, 8, high, null), "8-bit"),
                    LOADER.load(cmykTiff(width, height, 16, wide, iccProfile), "16-bit"),
                    iccProfile == null ? "without a profile" : "with a profile");
        }
    }

    /** An uncompressed little-endian CMYK TIFF of one strip, with an ICC profile unless null. */
    private static byte[] cmykTiff(int width, int height, int bits, byte[] samples, byte[] iccProfile) {
        int entries = iccProfile == null ? 10 : 11;
        int ifd = 8 + samples.length;
        int extra = ifd + 2 + 12 * entries + 4;
        ByteBuffer tiff = ByteBuffer.allocate(extra + 8 + (iccProfile == null ? 0 : iccProfile.length))
                .order(ByteOrder.LITTLE_ENDIAN);
        tiff.put((byte) 'I').put((byte) 'I').putShort((short) 42).putInt(ifd).put(samples);
        tiff.putShort((short) entries);
        tiff.putShort((short) 256).putShort((short) 4).putInt(1).putInt(width);
        tiff.putShort((short) 257).putShort((short) 4).putInt(1).putInt(height);
        tiff.putShort((short) 258).putShort((short) 3).putInt(4).putInt(extra); // BitsPerSample, 4 values
        tiff.putShort((short) 259).putShort((short) 3).putInt(1).putInt(1); // no compression
        tiff.putShort((short) 262).putShort((short) 3).putInt(1).putInt(5); // separated
        tiff.putShort((short) 273).putShort((short) 4).putInt(1).putInt(8);
        tiff.putShort((short) 277).putShort((short) 3).putInt(1).putInt(4);
        tiff.putShort((short) 278).putShort((short) 4).putInt(1).putInt(height);
        tiff.putShort((short) 279).putShort((short) 4).putInt(1).putInt(samples.length);
        tiff.putShort((short) 284).putShort((short) 3).putInt(1).putInt(1);
        if (iccProfile != null) {
            tiff.putShort((short) 34675).putShort((short) 7).putInt(iccProfile.length).putInt(extra + 8);
        }
        tiff.putInt(0);
        for (int band = 0; band < 4; band++) {
            tiff.putShort((short) bits);
        }
        if (iccProfile != null) {
            tiff.put(iccProfile);
        }
        return tiff.array();
    }

    /**
     * A plain PBM whose one pixel follows 131,072 one-line comments (256 KiB): each goes with its line break, as in
     * Pillow, which gives a black pixel. Removing them one copy and rescan at a time took 10.6 s here.
     */
    @Test
    void plainNetpbmOfManyCommentsDecodes() {
        byte[] file = ("P1 1 1\n" + "#\n".repeat(131_072) + "1\n").getBytes(StandardCharsets.US_ASCII);
        assertEquals(new RgbImage(1, 1, new byte[3]), LOADER.load(file, "comments.pbm"));
    }

    private static JsonNode pillowDecoded() throws IOException {
        return new ObjectMapper().readTree(IMAGES.resolve("pillow-decoded.json").toFile());
    }

    /**
     * A valid lossless WebP whose pixels cost no bits (Pillow's libwebp, method 0, all black): the decoder's
     * look-ahead meets the end of the data about once a pixel, which a fixed bound of 1,024 took for a truncated
     * file and refused.
     */
    @Test
    void losslessWebpWhosePixelsCostNoBitsDecodes() {
        RgbImage black = LOADER.load(TestImages.resource("/webp").resolve("black-300x300-lossless.webp"));
        assertEquals(300, black.width());
        assertEquals(300, black.height());
        byte[] pixels = black.toByteArray();
        for (int i = 0; i < pixels.length; i++) {
            assertEquals(0, pixels[i], "byte " + i);
        }
    }

    @Test
    void jpegDecodesCloseToWhatWasEncoded() {
        assertMaxError("rgb.jpg", TestImages.expectedRgb(), LOADER.load(IMAGES.resolve("rgb.jpg")), JPEG_MAX_ERROR);
        assertMaxError("gray.jpg", TestImages.expectedGray(), LOADER.load(IMAGES.resolve("gray.jpg")),
                JPEG_MAX_ERROR);
    }

    @Test
    void cmykJpegIsConvertedToRgb() {
        RgbImage image = LOADER.load(IMAGES.resolve("cmyk.jpg"));
        int[] white = {255, 255, 255};
        int[] cyan = {0, 255, 255};
        for (int y = 0; y < image.height(); y++) {
            for (int x : new int[] {1, 4, image.width() - 5, image.width() - 2}) {
                int[] want = x < image.width() / 2 ? white : cyan;
                for (int c = 0; c < 3; c++) {
                    int error = Math.abs(image.sample(x, y, c) - want[c]);
                    assertTrue(error <= CMYK_MAX_ERROR, "cmyk.jpg (" + x + "," + y + ") channel " + c + ": "
                            + image.sample(x, y, c) + " vs " + want[c]);
                }
            }
        }
    }

    @Test
    void bytesStreamsAndBufferedImagesDecodeLikeFiles() throws IOException {
        Path file = IMAGES.resolve("rgba.png");
        RgbImage expected = LOADER.load(file);
        assertEquals(expected, LOADER.load(Files.readAllBytes(file), "upload"));
        try (InputStream in = Files.newInputStream(file)) {
            assertEquals(expected, LOADER.load(in, "stream"));
        }
        assertEquals(expected, LOADER.load(TestImages.rgb(BufferedImage.TYPE_INT_ARGB), "argb"));
        assertEquals(expected, LOADER.load(TestImages.rgb(BufferedImage.TYPE_INT_RGB), "rgb"));
        assertEquals(TestImages.expectedGray(), LOADER.load(TestImages.gray(false), "gray"));
        assertEquals(TestImages.expectedPalette(), LOADER.load(TestImages.palette(), "palette"));
    }

    private static RgbImage expectedWebp() {
        byte[] pixels = new byte[TestImages.WIDTH * TestImages.HEIGHT * 3];
        for (int y = 0; y < TestImages.HEIGHT; y++) {
            for (int x = 0; x < TestImages.WIDTH; x++) {
                int at = (y * TestImages.WIDTH + x) * 3;
                pixels[at] = (byte) TestImages.webpRed(x, y);
                pixels[at + 1] = (byte) TestImages.webpGreen(x, y);
                pixels[at + 2] = (byte) TestImages.webpBlue(x, y);
            }
        }
        return new RgbImage(TestImages.WIDTH, TestImages.HEIGHT, pixels);
    }

    private static void assertMaxError(String file, RgbImage expected, RgbImage actual, int maxError) {
        assertEquals(expected.width(), actual.width(), file + " width");
        assertEquals(expected.height(), actual.height(), file + " height");
        int worst = 0;
        for (int y = 0; y < expected.height(); y++) {
            for (int x = 0; x < expected.width(); x++) {
                for (int c = 0; c < 3; c++) {
                    worst = Math.max(worst, Math.abs(expected.sample(x, y, c) - actual.sample(x, y, c)));
                }
            }
        }
        assertTrue(worst <= maxError, file + ": worst sample error " + worst + " over " + maxError);
    }
}
