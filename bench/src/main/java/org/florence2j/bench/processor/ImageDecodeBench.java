package org.florence2j.bench.processor;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.florence2j.image.ImageLoader;
import org.florence2j.image.RgbImage;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Decoding a 1920 × 1080 image into RGB with {@link ImageLoader}, as a request does before preprocessing: a photo as a
 * lossy WebP of quality 80 ({@code images/photo-1920x1080.webp}, 68 KB, written by {@code photo_1920x1080.py}) and
 * as a JPEG (ImageIO's default quality, 0.75) and a PNG, encoded by ImageIO at set-up; and a screenshot-like image
 * as a lossless WebP ({@code images/screenshot-1920x1080.webp}, 7 KB, {@code screenshot_1920x1080.py}).
 * {@link #imageIoRead} decodes the same bytes with {@link ImageIO#read}, which for a WebP is TwelveMonkeys' decoder
 * (no RGB conversion): the one florence2j used before its own.
 *
 * <p>{@code java -jar bench/target/benchmarks.jar ImageDecodeBench}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class ImageDecodeBench {
    @Param({"webp", "webp-lossless", "jpeg", "png"})
    public String format;

    private final ImageLoader loader = new ImageLoader();
    private byte[] encoded;

    @Setup
    public void setUp() throws IOException {
        byte[] photo = resource("/images/photo-1920x1080.webp");
        encoded = switch (format) {
            case "webp" -> photo;
            case "webp-lossless" -> resource("/images/screenshot-1920x1080.webp");
            default -> encode(ImageIO.read(new ByteArrayInputStream(photo)), format);
        };
    }

    private static byte[] resource(String path) throws IOException {
        try (InputStream in = ImageDecodeBench.class.getResourceAsStream(path)) {
            return in.readAllBytes();
        }
    }

    private static byte[] encode(BufferedImage image, String format) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(image, format, out)) {
                throw new IllegalArgumentException("no ImageIO writer for " + format);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    @Benchmark
    public RgbImage imageLoader() {
        return loader.load(encoded, format);
    }

    @Benchmark
    public BufferedImage imageIoRead() throws IOException {
        return ImageIO.read(new ByteArrayInputStream(encoded));
    }
}
