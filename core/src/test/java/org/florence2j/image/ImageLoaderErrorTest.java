package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.DirectColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
            "cmyk.jpg, 90", "lossless.webp, 60", "rgb.bmp, 50", "rgb.tiff, 50"})
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
