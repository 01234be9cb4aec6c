package org.florence2j.image;

import static org.florence2j.image.RiffFiles.withByte;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.DirectColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import org.florence2j.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every way an image input can be bad ends in an {@link InvalidInputException} that names the input. */
class ImageLoaderErrorTest {
    private static final Path IMAGES = TestImages.resource("/images");
    private static final ImageLoader LOADER = new ImageLoader();

    @TempDir
    Path temp;

    @Test
    void missingFile() {
        Path missing = temp.resolve("no-such-photo.png");
        assertRefused(() -> LOADER.load(missing), "no-such-photo.png", "does not exist");
    }

    @Test
    void directory() {
        assertRefused(() -> LOADER.load(temp), temp.toString(), "not a regular file");
    }

    @Test
    void nonImageFile() throws IOException {
        Path text = Files.writeString(temp.resolve("notes.png"), "these are not pixels\n");
        assertRefused(() -> LOADER.load(text), "notes.png", "not an image");
    }

    @Test
    void emptyBytes() {
        assertRefused(() -> LOADER.load(new byte[0], "request.image"), "request.image", "not an image");
    }

    /** Cut points are past the headers, so each decoder recognises its format and then runs out of data. */
    @ParameterizedTest(name = "{0} cut to {1}%")
    @CsvSource({"rgb.png, 60", "gray16.png, 50", "palette.gif, 60", "rgb.jpg, 90", "gray.jpg, 95",
            "cmyk.jpg, 90", "lossless.webp, 60", "lossy-q80.webp, 60", "animated-lossy-offset.webp, 60",
            "animated-lossless-offset.webp, 60", "rgb.bmp, 50", "rgb.tiff, 50", "raw-rgb.ppm, 90",
            "raw-gray-1000.pgm, 90", "raw-bitmap.pbm, 90", "plain-rgb-comments.ppm, 90", "plain-bitmap.pbm, 90"})
    void truncatedFile(String file, int percent) throws IOException {
        byte[] whole = Files.readAllBytes(IMAGES.resolve(file));
        byte[] cut = Arrays.copyOf(whole, whole.length * percent / 100);
        Path truncated = Files.write(temp.resolve("cut-" + file), cut);
        assertRefused(() -> LOADER.load(truncated), "cut-" + file, "truncated");
        assertRefused(() -> LOADER.load(cut, "upload " + file), "upload " + file, "truncated");
    }

    @Test
    void corruptPngData() throws IOException {
        byte[] png = Files.readAllBytes(IMAGES.resolve("rgb.png"));
        int idat = indexOf(png, "IDAT".getBytes(StandardCharsets.US_ASCII));
        for (int i = idat + 8; i < idat + 40; i++) {
            png[i] = (byte) (png[i] ^ 0x5A);
        }
        assertRefused(() -> LOADER.load(png, "scrambled.png"), "scrambled.png", "corrupt");
    }

    /**
     * Lossy WebPs whose VP8 data is damaged inside a consistent container: each is refused, as Pillow's libwebp
     * refuses it (checked with Pillow 12.3 on the same edits), never decoded into made-up pixels.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "start code, start code",
        "zero width, no pixels",
        "first partition past the data, first partition",
        "first partition cut short, first partition",
        "token partition cut short, token partition ends before macroblock",
        "no token partition, token partition is empty",
    })
    void damagedLossyWebpIsRefused(String damage, String reason) throws IOException {
        byte[] vp8 = firstChunkPayload("lossy-q80.webp");
        int tag = (vp8[0] & 0xFF) | (vp8[1] & 0xFF) << 8 | (vp8[2] & 0xFF) << 16;
        int firstPartition = tag >>> 5;
        byte[] damaged = switch (damage) {
            case "start code" -> withByte(vp8, 3, 0);
            case "zero width" -> withByte(withByte(vp8, 6, 0), 7, 0);
            case "first partition past the data" -> withFirstPartitionSize(vp8, tag, vp8.length);
            case "first partition cut short" -> withFirstPartitionSize(vp8, tag, 3);
            case "token partition cut short" -> Arrays.copyOf(vp8, (vp8.length + 10 + firstPartition) / 2);
            case "no token partition" -> Arrays.copyOf(vp8, 10 + firstPartition);
            default -> throw new IllegalArgumentException(damage);
        };
        String name = "damaged " + damage + ".webp";
        assertRefused(() -> LOADER.load(simpleWebp(damaged), name), name, reason);
    }

    /**
     * Lossless WebPs whose VP8L data is cut short or has an unknown version inside a consistent container: each is
     * refused, as Pillow's libwebp refuses it (checked with Pillow 12.3 on the same edits). TwelveMonkeys' decoder,
     * used before, decoded the cut ones into made-up pixels.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "cut in half, ends too early",
        "last byte cut, ends too early",
        "version 1, no valid VP8L header",
    })
    void damagedLosslessWebpIsRefused(String damage, String reason) throws IOException {
        byte[] vp8l = firstChunkPayload("lossless-mosaic.webp");
        byte[] damaged = switch (damage) {
            case "cut in half" -> Arrays.copyOf(vp8l, vp8l.length / 2);
            case "last byte cut" -> Arrays.copyOf(vp8l, vp8l.length - 1);
            case "version 1" -> withByte(vp8l, 4, vp8l[4] | 0x20);
            default -> throw new IllegalArgumentException(damage);
        };
        String name = "damaged " + damage + ".webp";
        assertRefused(() -> LOADER.load(simpleWebp(damaged, "VP8L"), name), name, reason);
    }

    /**
     * A lossy WebP whose lossless-compressed alpha stream is garbage past its header byte: libwebp fails the picture
     * and Pillow refuses it (checked with Pillow 12.3 on these edits), although the RGB does not depend on the alpha.
     */
    @ParameterizedTest(name = "alpha stream of 0x{0}")
    @CsvSource({"FF, 255", "00, 0"})
    void damagedLosslessAlphaIsRefused(String hex, int fill) throws IOException {
        List<byte[]> chunks = RiffFiles.chunks(Files.readAllBytes(IMAGES.resolve("lossy-alpha.webp")));
        byte[] alpha = chunks.get(1); // after VP8X
        assertEquals("ALPH", new String(alpha, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(1, alpha[8] & 3, "the fixture's alpha is lossless-compressed");
        Arrays.fill(alpha, 9, alpha.length, (byte) fill);
        byte[] file = RiffFiles.riff(chunks);
        String name = "alpha " + hex + ".webp";
        assertRefused(() -> LOADER.load(file, name), name, "VP8L");
    }

    /**
     * An alpha stream (of a colour-indexing transform only, which libwebp decodes by its 8-bit path) whose last
     * pixel is a backward reference read past the stream's end: libwebp reads its rest from a stale bit window and
     * fails, and Pillow 12.3 refuses the file; one whose last literal is read past the end decodes
     * ({@code lossy-alpha-read-past-end.webp}, {@link ImageDecodingTest}). Both come from random edits.
     */
    @Test
    void alphaReadPastItsEndByABackwardReferenceIsRefused() {
        assertRefused(() -> LOADER.load(IMAGES.resolve("lossy-alpha-past-end-reference.webp")),
                "lossy-alpha-past-end-reference.webp", "VP8L data ends too early");
    }

    /** What Pillow's PPM plugin refuses, florence2j refuses, naming the fault; Pillow's own extensions too. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "P3 2 1 255\\n1 2 3 4 5 256\\n | its sample 256 is outside 0 to its maxval 255",
        "P2 2 1 10\\n1 -2\\n | its sample -2 is outside 0 to its maxval 10",
        "P2 2 1 10\\n1 x\\n | its sample 'x' is not an integer",
        "P2 2 1 10\\n1 00000000001\\n | a token of over 10 characters",
        "P1 2 1\\n1 2\\n | its plain bitmap holds '2', not 0 or 1",
        "P1 2 1\\n11\\nX | its plain bitmap holds 'X', not 0 or 1",
        "P5 2 1 0\\n12 | its maxval 0 is not between 1 and 65,535",
        "P5 2 1 65536\\n1234 | its maxval 65536 is not between 1 and 65,535",
        "P6 2 two 255\\n | its height 'two' is not an integer",
        "P6 2 | its header ends before its height",
        "P6 12345678901 1 255\\n | its header's width token '12345678901' is over 10 characters",
        "P7 2 1 255\\n | not an image in a readable format",
        "P61 2 1 255\\n | its magic number 'P61' is not one of P1 to P6",
        "Pf 2 1 -1.0\\n | its magic number 'Pf' is not one of P1 to P6 (Pillow's own PPM extensions are not read)",
        "P5 0 3 255\\n | has no pixels (0x3)",
    })
    void malformedNetpbmIsRefused(String file, String reason) {
        byte[] bytes = file.replace("\\n", "\n").getBytes(StandardCharsets.ISO_8859_1);
        assertRefused(() -> LOADER.load(bytes, "upload.pnm"), "upload.pnm", reason);
    }

    /** Whatever the pixel limit, a raw row over a Java array's length is refused from the header. */
    @Test
    void netpbmRowsPastAnArrayAreRefusedFromTheHeader() {
        ImageLoader unlimited = new ImageLoader(Long.MAX_VALUE);
        assertRefused(() -> unlimited.load("P6 400000000 1 65535\n".getBytes(StandardCharsets.US_ASCII), "wide.ppm"),
                "wide.ppm", "its rows of 2400000000 bytes are too long");
    }

    @Test
    void oversizedNetpbmIsRefusedFromItsHeader() {
        assertRefused(() -> LOADER.load("P6 20000 20000 255\n".getBytes(StandardCharsets.US_ASCII), "huge.ppm"),
                "huge.ppm", "over the limit of 64000000 pixels");
    }

    @Test
    void oversizedLossyWebpIsRefusedFromItsHeader() {
        ImageLoader strict = new ImageLoader(48 * 40 - 1);
        assertRefused(() -> strict.load(IMAGES.resolve("lossy-q80.webp")), "lossy-q80.webp", "over the limit");
    }

    /** An animated WebP's first frame goes on its canvas, so the canvas's size counts, not the frame's. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"animated-lossy-offset.webp, 24, 20", "animated-lossless-offset.webp, 20, 14"})
    void oversizedAnimatedWebpIsRefusedFromItsCanvas(String file, int width, int height) {
        ImageLoader strict = new ImageLoader(width * height - 1);
        assertRefused(() -> strict.load(IMAGES.resolve(file)), file, width + "x" + height + " = " + width * height
                + " pixels, over the limit");
    }

    @Test
    void zeroPixelImage() {
        assertRefused(() -> LOADER.load(pngHeaderOnly(0, 16), "empty.png"), "empty.png", "");
    }

    @Test
    void oversizedImageIsRefusedFromItsHeader() {
        // 20000 x 20000 RGB would need 1.2 GB to decode; the file is 57 bytes with no pixel data at all, so
        // reaching the decoder would fail differently (or run out of memory).
        byte[] huge = pngHeaderOnly(20000, 20000);
        assertRefused(() -> LOADER.load(huge, "huge.png"), "huge.png", "over the limit of 64000000 pixels");
    }

    /**
     * A GIF's first frame goes on its logical screen, so the screen's size counts: here 65535 × 65535 around an
     * 8 × 6 frame, which would need 4 GB.
     */
    @Test
    void gifWithAHugeLogicalScreenIsRefusedFromItsHeader() throws IOException {
        byte[] gif = Files.readAllBytes(IMAGES.resolve("gif-offset.gif"));
        ByteBuffer.wrap(gif, 6, 4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0xFFFF).putShort((short) 0xFFFF);
        assertRefused(() -> LOADER.load(gif, "screen.gif"), "screen.gif", "65535x65535");
        ImageLoader strict = new ImageLoader(11 * 9 - 1);
        assertRefused(() -> strict.load(IMAGES.resolve("gif-offset.gif")), "gif-offset.gif", "11x9");
        // Without a limit, a screen whose RGB bytes would not fit in one array still cannot be decoded.
        ImageLoader unlimited = new ImageLoader(Long.MAX_VALUE);
        assertRefused(() -> unlimited.load(gif, "screen.gif"), "screen.gif", "fit in one Java array");
    }

    @Test
    void pixelLimitIsConfigurable() {
        ImageLoader strict = new ImageLoader(TestImages.WIDTH * TestImages.HEIGHT - 1);
        assertRefused(() -> strict.load(IMAGES.resolve("rgb.png")), "rgb.png", "over the limit");
        assertRefused(() -> strict.load(TestImages.gray(false), "in-memory"), "in-memory", "over the limit");
        new ImageLoader(TestImages.WIDTH * TestImages.HEIGHT).load(IMAGES.resolve("rgb.png"));
    }

    /** A 16-bit BMP's bit masks say which bits hold each channel; a mask of 0 gives a channel of no bits. */
    @Test
    void bmpChannelOfNoBitsIsRefused() throws IOException {
        byte[] bmp = Files.readAllBytes(IMAGES.resolve("rgb555.bmp"));
        int blueMask = 14 + 40 + 8;
        Arrays.fill(bmp, blueMask, blueMask + 4, (byte) 0);
        assertRefused(() -> LOADER.load(bmp, "no-blue.bmp"), "no-blue.bmp", "colour channel 2 has no bits");
    }

    @Test
    void decodedImageWithAChannelOfNoBitsIsRefused() {
        DirectColorModel noBlue = new DirectColorModel(16, 0x7C00, 0x03E0, 0);
        BufferedImage image = new BufferedImage(noBlue, noBlue.createCompatibleWritableRaster(4, 3), false, null);
        assertRefused(() -> LOADER.load(image, "no-blue"), "no-blue", "colour channel 2 has no bits");
    }

    private static void assertRefused(Executable load, String name, String reason) {
        InvalidInputException e = assertThrows(InvalidInputException.class, load);
        assertTrue(e.getMessage().contains(name), () -> "message does not name '" + name + "': " + e.getMessage());
        assertTrue(e.getMessage().contains(reason), () -> "message does not say '" + reason + "': " + e.getMessage());
    }

    /** The VP8 data with its frame tag's first-partition size replaced. */
    private static byte[] withFirstPartitionSize(byte[] vp8, int tag, int size) {
        int edited = (tag & 0x1F) | size << 5;
        return withByte(withByte(withByte(vp8, 0, edited), 1, edited >> 8), 2, edited >> 16);
    }

    /** The payload of a WebP fixture's first chunk (a simple file's image data). */
    private static byte[] firstChunkPayload(String fixture) throws IOException {
        byte[] chunk = RiffFiles.chunks(Files.readAllBytes(IMAGES.resolve(fixture))).get(0);
        return Arrays.copyOfRange(chunk, 8, chunk.length);
    }

    /** A simple-format WebP file of one image chunk, {@code VP8 } or {@code VP8L}, padded to an even length. */
    private static byte[] simpleWebp(byte[] vp8, String fourcc) {
        return RiffFiles.riff(List.of(RiffFiles.chunk(fourcc, vp8)));
    }

    private static byte[] simpleWebp(byte[] vp8) {
        return simpleWebp(vp8, "VP8 ");
    }

    /** A PNG signature, an IHDR for an 8-bit RGB image of the given size, and IEND: no pixel data. */
    private static byte[] pngHeaderOnly(int width, int height) {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        ByteBuffer header = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 2);
        writeChunk(png, "IHDR", header.array());
        writeChunk(png, "IEND", new byte[0]);
        return png.toByteArray();
    }

    private static void writeChunk(ByteArrayOutputStream png, String type, byte[] data) {
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        png.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        png.writeBytes(typeBytes);
        png.writeBytes(data);
        png.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new IllegalArgumentException("not found");
    }
}
