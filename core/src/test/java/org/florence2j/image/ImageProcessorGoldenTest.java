package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every golden image through the whole path (PNG file → RGB → Pillow bicubic → rescale/normalise) against the
 * reference processor's own output: {@code resized_uint8_hwc} exactly and {@code pixel_values} within 1e-6 (the
 * golden README's tolerance; the arithmetic is numpy's, so the measured error is 0).
 */
class ImageProcessorGoldenTest {
    private static final double PIXEL_VALUES_ATOL = 1e-6;

    private static final Path GOLDEN = TestImages.resource("/golden/tiny");
    private static final ImageProcessor PROCESSOR = ImageProcessor.load(GOLDEN.resolve("model"));

    @ParameterizedTest
    @ValueSource(strings = {"image0_gradient_160x160", "image1_checker_shapes_200x150", "image2_noise_173x97",
            "image3_small_37x29"})
    void matchesTheReferenceProcessor(String golden) {
        String imageName = golden.substring(golden.indexOf('_') + 1);
        RgbImage image = new ImageLoader().load(GOLDEN.resolve("images").resolve(imageName + ".png"));
        try (SafetensorsFile expected = SafetensorsFile.open(GOLDEN.resolve("cases").resolve(golden + ".safetensors"));
                Arena arena = Arena.ofConfined()) {
            ImageProcessor.Processed processed = PROCESSOR.preprocess(image, arena);

            Tensor expectedResized = expected.find("resized_uint8_hwc").orElseThrow();
            RgbImage resized = processed.resized().getFirst();
            assertEquals(expectedResized.shape(), Shape.of(resized.height(), resized.width(), 3));
            assertResizedExact(golden, expectedResized, resized);

            Tensor expectedPixels = expected.find("pixel_values").orElseThrow();
            assertEquals(expectedPixels.shape(), processed.pixelValues().shape());
            assertClose(golden + " pixel_values", expectedPixels.toFloatArray(),
                    processed.pixelValues().toFloatArray(), PIXEL_VALUES_ATOL);
        }
    }

    @Test
    void batchesImagesInOrder() {
        List<RgbImage> images = new ArrayList<>();
        for (String name : List.of("noise_173x97", "small_37x29")) {
            images.add(new ImageLoader().load(GOLDEN.resolve("images").resolve(name + ".png")));
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor batch = PROCESSOR.preprocess(images, arena).pixelValues();
            assertEquals(Shape.of(2, 3, 96, 96), batch.shape());
            for (int b = 0; b < 2; b++) {
                float[] single = PROCESSOR.preprocess(images.get(b), arena).pixelValues().toFloatArray();
                assertArrayEquals(single, batch.narrow(b, 1).toFloatArray(), "batch row " + b);
            }
        }
    }

    @Test
    void resizedTapIsAnHwcUint8Tensor() {
        RgbImage image = new ImageLoader().load(GOLDEN.resolve("images").resolve("small_37x29.png"));
        try (SafetensorsFile expected = SafetensorsFile.open(
                GOLDEN.resolve("cases").resolve("image3_small_37x29.safetensors"));
                Arena arena = Arena.ofConfined()) {
            Tensor tap = PROCESSOR.resizeAndCrop(image).toTensor(arena);
            Tensor golden = expected.find("resized_uint8_hwc").orElseThrow();
            assertEquals(golden.dtype(), tap.dtype());
            assertEquals(golden.shape(), tap.shape());
            assertArrayEquals(golden.toLongArray(), tap.toLongArray());
        }
    }

    private static void assertResizedExact(String golden, Tensor expected, RgbImage actual) {
        long[] want = expected.toLongArray();
        int mismatches = 0;
        StringBuilder first = new StringBuilder();
        for (int y = 0; y < actual.height(); y++) {
            for (int x = 0; x < actual.width(); x++) {
                for (int c = 0; c < 3; c++) {
                    long e = want[(y * actual.width() + x) * 3 + c];
                    int a = actual.sample(x, y, c);
                    if (e != a) {
                        if (mismatches++ < 5) {
                            first.append(String.format(" (y=%d x=%d c=%d: expected %d got %d)", y, x, c, e, a));
                        }
                    }
                }
            }
        }
        if (mismatches > 0) {
            fail(golden + " resized_uint8_hwc: " + mismatches + " bytes differ; first:" + first);
        }
    }

    private static void assertClose(String what, float[] expected, float[] actual, double atol) {
        int worst = -1;
        double worstError = 0;
        int violations = 0;
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs((double) actual[i] - expected[i]);
            if (error > worstError) {
                worstError = error;
                worst = i;
            }
            if (error > atol) {
                violations++;
            }
        }
        if (violations > 0) {
            fail(what + ": " + violations + " of " + expected.length + " elements over atol " + atol
                    + "; worst index " + worst + " expected " + expected[worst] + " got " + actual[worst]
                    + " (abs error " + worstError + ")");
        }
    }

}
