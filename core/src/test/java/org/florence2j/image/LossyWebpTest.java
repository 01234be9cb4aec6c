package org.florence2j.image;

import static org.florence2j.image.RiffFiles.chunk;
import static org.florence2j.image.RiffFiles.chunks;
import static org.florence2j.image.RiffFiles.riff;
import static org.florence2j.image.RiffFiles.withByte;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.florence2j.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which WebPs {@link LossyWebp} decodes (still lossy ones, simple or extended) and which it leaves to other decoders
 * (lossless ones to {@link LosslessWebp}, animated ones to {@link AnimatedWebp}), and which extended containers it refuses:
 * exactly those Pillow 12.3 refuses, each case below checked against Pillow on the same bytes.
 */
class LossyWebpTest {
    private static final Path IMAGES = TestImages.resource("/images");
    private static final ImageLoader LOADER = new ImageLoader();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lossy-q80.webp", "lossy-alpha.webp", "lossy-37x29.webp", "lossy-8-partitions.webp"})
    void stillLossyWebpsAreDecodedHere(String file) throws IOException {
        LossyWebp lossy = read(Files.readAllBytes(IMAGES.resolve(file)));
        assertNotNull(lossy, file);
        RgbImage decoded = LOADER.load(IMAGES.resolve(file));
        assertEquals(decoded.width(), lossy.width(), file);
        assertEquals(decoded.height(), lossy.height(), file);
    }

    @Test
    void losslessAndAnimatedWebpsAreLeftToOtherDecoders() throws IOException {
        assertNull(read(Files.readAllBytes(IMAGES.resolve("lossless.webp"))), "simple lossless");
        assertNull(read(Files.readAllBytes(IMAGES.resolve("photo-profile.webp"))), "extended lossless");
        assertNull(read(animated()), "animated");
        assertNull(read(Files.readAllBytes(IMAGES.resolve("rgb.png"))), "not a WebP");
    }

    /**
     * An animated lossy WebP (Pillow 12.3, {@code save_all}, 16 × 16, a red frame then a blue one, quality 80)
     * decodes to its first frame as Pillow decodes it: TwelveMonkeys' VP8 decoder, used before, was a few levels
     * off.
     */
    @Test
    void animatedLossyWebpDecodesItsFirstFrameAsPillowDoes() throws IOException {
        RgbImage first = LOADER.load(animated(), "animated");
        assertEquals(16, first.width());
        assertEquals(16, first.height());
        // Pillow 12.3's decode of this frame: three shades of red, (200, 29, 30) at the centre.
        int[] red = {200, 29, 30};
        for (int channel = 0; channel < 3; channel++) {
            assertEquals(red[channel], first.sample(8, 8, channel), "channel " + channel);
        }
    }

    /**
     * Variants of {@code lossy-alpha.webp} (chunks VP8X, ALPH, {@code VP8 }): what the demuxer libwebp decodes
     * through accepts, and what it refuses. Without the alpha flag an alpha chunk is ignored, corrupt or not.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "as made, ",
        "an unknown chunk after the image, ",
        "no alpha chunk, ",
        "a corrupt alpha chunk without the alpha flag, ",
        "an EXIF chunk between alpha and image, is followed by EXIF",
        "the alpha chunk after the image, does not come right before the image",
        "a second image, a second image",
        "a canvas wider than the image, does not fill its 49x40 canvas",
        "an unknown VP8X flag, unknown flags",
        "an alpha header of unknown bits, header 0xc1 is invalid",
        "too little uncompressed alpha, 100 bytes for 1920 pixels",
        "a VP8X chunk of 12 bytes, has 12 bytes, not 10",
    })
    void extendedContainers(String variant, String refusal) throws IOException {
        List<byte[]> chunks = chunks(Files.readAllBytes(IMAGES.resolve("lossy-alpha.webp")));
        byte[] vp8x = chunks.get(0);
        byte[] alpha = chunks.get(1);
        byte[] image = chunks.get(2);
        List<byte[]> edited = switch (variant) {
            case "as made" -> List.of(vp8x, alpha, image);
            case "an unknown chunk after the image" -> List.of(vp8x, alpha, image, chunk("ABCD", new byte[5]));
            case "no alpha chunk" -> List.of(vp8x, image);
            case "a corrupt alpha chunk without the alpha flag" ->
                    List.of(withFlags(vp8x, 0), chunk("ALPH", new byte[] {-1, -1, -1}), image);
            case "an EXIF chunk between alpha and image" -> List.of(vp8x, alpha, chunk("EXIF", new byte[3]), image);
            case "the alpha chunk after the image" -> List.of(vp8x, image, alpha);
            case "a second image" -> List.of(vp8x, alpha, image, image);
            case "a canvas wider than the image" -> List.of(withByte(vp8x, 8 + 4, 48), alpha, image);
            case "an unknown VP8X flag" -> List.of(withFlags(vp8x, vp8x[8] | 0x01), alpha, image);
            case "an alpha header of unknown bits" -> List.of(vp8x, withByte(alpha, 8, 0xC1), image);
            case "a VP8X chunk of 12 bytes" ->
                    List.of(chunk("VP8X", Arrays.copyOfRange(vp8x, 8, 8 + 12)), alpha, image);
            case "too little uncompressed alpha" -> {
                byte[] raw = new byte[101];
                Arrays.fill(raw, 1, raw.length, (byte) 0x80);
                yield List.of(vp8x, chunk("ALPH", raw), image);
            }
            default -> throw new IllegalArgumentException(variant);
        };
        byte[] file = riff(edited);
        if (refusal == null) {
            assertEquals(48, LOADER.load(file, variant).width(), variant);
        } else {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> LOADER.load(file, variant));
            assertTrue(e.getMessage().contains(variant) && e.getMessage().contains(refusal), e.getMessage());
        }
    }

    private static LossyWebp read(byte[] file) throws IOException {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(file))) {
            return LossyWebp.read(in);
        }
    }

    private static byte[] animated() throws IOException {
        return Files.readAllBytes(TestImages.resource("/webp").resolve("animated-lossy-red-then-blue.webp"));
    }

    private static byte[] withFlags(byte[] vp8x, int flags) {
        return withByte(vp8x, 8, flags);
    }

    /**
     * Frames whose dequantized coefficients overflow 16 bits in the inverse DCT (one 16 × 16 macroblock, quantizer
     * 127, two coefficients of 100 steps in a luma block or in a U block; no encoder writes such values): Pillow's
     * libwebp on x86-64 transforms in SSE2's wrapping 16-bit lanes, not in its C code's 32-bit integers, and these
     * are the SHA-256 digests of Pillow 12.3's RGB.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "crafted-transform-overflow-luma.webp, ad8cd2d18cc34f5089745db3e6f3ed5a04ab87c1b74c0a983bcb8d9c22caff7b",
        "crafted-transform-overflow-chroma.webp, 429445d4072430f4037361e80f2eb4330eaa98db4f65dfa241df508cf8375c03",
    })
    void coefficientsOverflowingSixteenBitsTransformAsPillowsSse2Does(String file, String sha256)
            throws NoSuchAlgorithmException {
        byte[] rgb = LOADER.load(IMAGES.resolve(file)).toByteArray();
        assertEquals(sha256, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(rgb)), file);
    }
}
