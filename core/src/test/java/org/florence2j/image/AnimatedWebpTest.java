package org.florence2j.image;

import static org.florence2j.image.RiffFiles.chunk;
import static org.florence2j.image.RiffFiles.chunks;
import static org.florence2j.image.RiffFiles.riff;
import static org.florence2j.image.RiffFiles.withByte;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which animated WebP containers {@link AnimatedWebp} accepts and which it refuses: exactly those Pillow 12.3
 * (libwebp 1.6's demuxer and {@code WebPAnimDecoder}) accepts and refuses, each case below checked against Pillow on
 * the same bytes. Every accepted variant decodes to the same canvas as the file as made.
 */
class AnimatedWebpTest {
    private static final Path IMAGES = TestImages.resource("/images");
    private static final ImageLoader LOADER = new ImageLoader();

    /**
     * Variants of {@code animated-lossy-offset.webp} (chunks VP8X, ANIM, an ANMF holding ALPH and {@code VP8 }, an
     * ANMF holding VP8L). The demuxer reads every frame's header but Pillow decodes only the first frame, so the
     * second frame's alpha chunk is not looked at; the ANMF chunk's own size fields give way to the bitstream's.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "as made, ",
        "an empty ANMF chunk first, ",
        "ANMF size fields unlike the image's, ",
        "an alpha header of unknown bits in the second frame, ",
        "no ANIM chunk, before the ANIM chunk",
        "the ANIM chunk after the first frame, before the ANIM chunk",
        "a 4-byte ANIM chunk, the ANIM chunk has 4 bytes",
        "an image chunk outside the frames, outside any ANMF chunk",
        "a canvas narrower than the first frame, does not fit in its 16x20 canvas",
        "the alpha chunk after the image, after its image chunk",
        "an ANMF chunk that ends before its image, run past its end",
        "an unknown VP8X flag, unknown flags",
        "a second VP8X chunk, a second VP8X chunk",
        "a second frame without a VP8 start code, start code",
        "a VP8L chunk after an alpha chunk, has its own alpha",
        "an alpha header of unknown bits, header 0xc1 is invalid",
        "an alpha chunk and no image, an ALPH chunk but no image",
        "no frame, has no frame",
    })
    void animatedContainers(String variant, String refusal) throws IOException {
        byte[] asMade = Files.readAllBytes(IMAGES.resolve("animated-lossy-offset.webp"));
        List<byte[]> chunks = chunks(asMade);
        byte[] vp8x = chunks.get(0);
        byte[] anim = chunks.get(1);
        byte[] first = chunks.get(2);
        byte[] second = chunks.get(3);
        byte[] firstHeader = Arrays.copyOfRange(first, 8, 8 + 16);
        List<byte[]> firstChunks = chunks(first, 8 + 16);
        byte[] alpha = firstChunks.get(0);
        byte[] image = firstChunks.get(1);
        byte[] secondHeader = Arrays.copyOfRange(second, 8, 8 + 16);
        byte[] lossless = chunks(second, 8 + 16).get(0);
        List<byte[]> edited = switch (variant) {
            case "as made" -> List.of(vp8x, anim, first, second);
            case "an empty ANMF chunk first" -> List.of(vp8x, anim, frame(firstHeader), first, second);
            case "ANMF size fields unlike the image's" ->
                    List.of(vp8x, anim, frame(withByte(firstHeader, 6, 2), alpha, image), second);
            case "an alpha header of unknown bits in the second frame" ->
                    List.of(vp8x, anim, first, frame(firstHeader, withByte(alpha, 8, 0xC1), image));
            case "no ANIM chunk" -> List.of(vp8x, first, second);
            case "the ANIM chunk after the first frame" -> List.of(vp8x, first, anim, second);
            case "a 4-byte ANIM chunk" -> List.of(vp8x, chunk("ANIM", new byte[4]), first, second);
            case "an image chunk outside the frames" -> List.of(vp8x, anim, first, second, image);
            case "a canvas narrower than the first frame" -> List.of(withByte(vp8x, 8 + 4, 15), anim, first, second);
            case "the alpha chunk after the image" -> List.of(vp8x, anim, frame(firstHeader, image, alpha), second);
            case "an ANMF chunk that ends before its image" ->
                    List.of(vp8x, anim, frame(firstHeader, alpha), image, second);
            case "an unknown VP8X flag" -> List.of(withByte(vp8x, 8, vp8x[8] | 0x01), anim, first, second);
            case "a second VP8X chunk" -> List.of(vp8x, anim, vp8x, first, second);
            case "a second frame without a VP8 start code" ->
                    List.of(vp8x, anim, first, frame(firstHeader, withByte(image, 8 + 3, 0)));
            case "a VP8L chunk after an alpha chunk" ->
                    List.of(vp8x, anim, first, frame(secondHeader, alpha, lossless));
            case "an alpha header of unknown bits" ->
                    List.of(vp8x, anim, frame(firstHeader, withByte(alpha, 8, 0xC1), image), second);
            case "an alpha chunk and no image" -> List.of(vp8x, anim, frame(firstHeader, alpha), second);
            case "no frame" -> List.of(vp8x, anim);
            default -> throw new IllegalArgumentException(variant);
        };
        byte[] file = riff(edited);
        if (refusal == null) {
            assertEquals(LOADER.load(asMade, "as made"), LOADER.load(file, variant), variant);
        } else {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> LOADER.load(file, variant));
            assertTrue(e.getMessage().contains(variant) && e.getMessage().contains(refusal), e.getMessage());
        }
    }

    /** An ANMF chunk of this 16-byte header and these chunks. */
    private static byte[] frame(byte[] header, byte[]... chunks) {
        return chunk("ANMF", header, List.of(chunks));
    }
}
