package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.florence2j.ImageSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A caller's stop check runs as the decoder reports progress, and what it throws ends the decode there: a request's
 * timeout or interrupt waited for the whole decode of its image before (1.5–2 s for an 8000 × 8000 JPEG).
 */
class ImageLoaderStopTest {
    private static final ImageLoader LOADER = new ImageLoader();

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"png", "jpg", "bmp", "gif"})
    void aStopCheckRunsWhileDecodingAndWhatItThrowsEndsTheDecode(String format) throws IOException {
        byte[] encoded = encoded(format);
        int[] checks = {0};
        RgbImage whole = LOADER.load(encoded, "whole", () -> checks[0]++);
        assertTrue(checks[0] >= 3, format + " ran the check " + checks[0] + " times");
        assertArrayEquals(LOADER.load(encoded, "unchecked").toByteArray(), whole.toByteArray());

        checks[0] = 0;
        IllegalStateException stop = new IllegalStateException("the caller stopped");
        var thrown = assertThrows(IllegalStateException.class, () -> LOADER.load(encoded, "stopped", () -> {
            if (++checks[0] == 2) {
                throw stop;
            }
        }));
        assertSame(stop, thrown, "rethrown as it is, not as a corrupt image");
        assertEquals(2, checks[0], "the check ran again after it had stopped the decode");
    }

    @Test
    void fileAndByteSourcesRunTheCheckAndDecodedOnesNeedNone() throws IOException {
        byte[] png = encoded("png");
        Path file = Files.write(dir.resolve("large.png"), png);
        RuntimeException stop = new IllegalStateException("the caller stopped");
        Runnable stopped = () -> {
            throw stop;
        };
        assertSame(stop, assertThrows(IllegalStateException.class,
                () -> ImageSource.of(file).decode(LOADER, stopped)));
        assertSame(stop, assertThrows(IllegalStateException.class,
                () -> ImageSource.of(png, "upload").decode(LOADER, stopped)));
        BufferedImage decoded = ImageIO.read(file.toFile());
        assertEquals(decoded.getWidth(), ImageSource.of(decoded, "decoded").decode(LOADER, stopped).width());
    }

    /** Lossy WebPs are decoded here, not by ImageIO: the check runs before each row of 16 × 16 macroblocks. */
    @Test
    void aLossyWebpRunsTheCheckEveryMacroblockRow() {
        Path webp = TestImages.resource("/images").resolve("lossy-8-partitions.webp"); // 9 macroblock rows
        int[] checks = {0};
        RgbImage whole = LOADER.load(webp, () -> checks[0]++);
        assertTrue(checks[0] >= 9, "the check ran " + checks[0] + " times");
        assertEquals(LOADER.load(webp), whole);

        checks[0] = 0;
        IllegalStateException stop = new IllegalStateException("the caller stopped");
        var thrown = assertThrows(IllegalStateException.class, () -> LOADER.load(webp, () -> {
            if (++checks[0] == 4) {
                throw stop;
            }
        }));
        assertSame(stop, thrown, "rethrown as it is, not as a corrupt image");
        assertEquals(4, checks[0], "the check ran again after it had stopped the decode");
    }

    /** An animated WebP's lossy first frame is decoded here too, the check running as for a still one. */
    @Test
    void anAnimatedLossyWebpRunsTheCheck() {
        Path webp = TestImages.resource("/images").resolve("animated-lossy-offset.webp");
        int[] checks = {0};
        assertEquals(LOADER.load(webp), LOADER.load(webp, () -> checks[0]++));
        assertTrue(checks[0] >= 1, "the check ran " + checks[0] + " times");
        RuntimeException stop = new IllegalStateException("the caller stopped");
        assertSame(stop, assertThrows(IllegalStateException.class, () -> LOADER.load(webp, () -> {
            throw stop;
        })));
    }

    /**
     * A lossless WebP runs the check every 16 rows of pixels, even one whose flat pixels cost no bits (which
     * TwelveMonkeys' decoder, used before, decoded by reading past the end of its data at every step).
     */
    @Test
    void aWebpReadingPastTheEndOfItsDataRunsTheCheckThere() {
        Path webp = TestImages.resource("/webp").resolve("black-300x300-lossless.webp");
        int[] checks = {0};
        assertEquals(300, LOADER.load(webp, () -> checks[0]++).width());
        assertTrue(checks[0] >= 10, "the check ran " + checks[0] + " times");
        RuntimeException stop = new IllegalStateException("the caller stopped");
        assertSame(stop, assertThrows(IllegalStateException.class, () -> LOADER.load(webp, () -> {
            throw stop;
        })));
    }

    /** A raw PPM runs the check every 64 rows, a plain one every 1 MiB block of its text. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"P6, 300, 4", "P3, 700, 3"})
    void aNetpbmRunsTheCheck(String magic, int rows, int leastChecks) {
        int width = 400;
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.writeBytes((magic + " " + width + " " + rows + " 255\n").getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < width * rows * 3; i++) {
            if (magic.equals("P6")) {
                file.write(i % 251);
            } else {
                file.writeBytes((i % 251 + " ").getBytes(StandardCharsets.US_ASCII));
            }
        }
        byte[] pnm = file.toByteArray();
        int[] checks = {0};
        assertEquals(LOADER.load(pnm, "unchecked"), LOADER.load(pnm, "whole", () -> checks[0]++));
        assertTrue(checks[0] >= leastChecks, magic + " ran the check " + checks[0] + " times");
        checks[0] = 0;
        RuntimeException stop = new IllegalStateException("the caller stopped");
        assertSame(stop, assertThrows(IllegalStateException.class, () -> LOADER.load(pnm, "stopped", () -> {
            if (++checks[0] == 2) {
                throw stop;
            }
        })));
        assertEquals(2, checks[0], "the check ran again after it had stopped the decode");
    }

    /** A 400 × 300 gradient in {@code format}: enough rows for decoders to report progress several times. */
    private static byte[] encoded(String format) throws IOException {
        BufferedImage image = new BufferedImage(400, 300, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                image.setRGB(x, y, (x * 255 / 400) << 16 | (y * 255 / 300) << 8 | (x + y) & 0xFF);
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(image, format, bytes), "no " + format + " writer");
        return bytes.toByteArray();
    }
}
