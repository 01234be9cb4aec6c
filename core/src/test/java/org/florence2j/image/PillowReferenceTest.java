package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every Pillow filter florence2j reproduces, and the center crop, byte for byte against the reference libraries'
 * own output ({@code images/pillow-resample.json}: Pillow's {@code Image.resize} and transformers'
 * {@code image_transforms.center_crop}, run on a 37×29 image whose samples follow a formula this test repeats):
 * downscaling, upscaling, one side each way, and crops larger, smaller and mixed; and resizes of other source sizes
 * ({@code images/pillow-resample-sources.json}).
 */
class PillowReferenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode reference() throws IOException {
        return JSON.readTree(TestImages.resource("/images/pillow-resample.json").toFile());
    }

    private static RgbImage source(JsonNode reference) {
        return source(reference.get("width").asInt(), reference.get("height").asInt());
    }

    private static RgbImage source(int width, int height) {
        byte[] pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    pixels[(y * width + x) * 3 + c] = (byte) ((7 * x + 13 * y + 29 * c + x * y) % 256);
                }
            }
        }
        return new RgbImage(width, height, pixels);
    }

    @TestFactory
    List<DynamicTest> resizeEqualsPillow() throws IOException {
        List<DynamicTest> tests = cases("resize", c -> {
            PillowResampler.Filter filter = PillowResampler.Filter.ofPillowId(c.get("resample").asInt());
            return Map.entry(filter + " to ", image -> PillowResampler.resize(image, c.get("width").asInt(),
                    c.get("height").asInt(), filter));
        });
        assertEquals(20, tests.size());
        return tests;
    }

    /**
     * Resizes whose sources differ from the 37×29 one ({@code images/pillow-resample-sources.json}, written by
     * {@code pillow_resample.py}): a HAMMING resize that Pillow's float constants decide, and images over 100 times
     * taller than wide, which Pillow 12 resizes vertically first when their height shrinks.
     */
    @TestFactory
    List<DynamicTest> resizeOfOtherSourcesEqualsPillow() throws IOException {
        JsonNode reference = JSON.readTree(TestImages.resource("/images/pillow-resample-sources.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : reference.get("resize")) {
            RgbImage source = source(c.get("source_width").asInt(), c.get("source_height").asInt());
            PillowResampler.Filter filter = PillowResampler.Filter.ofPillowId(c.get("resample").asInt());
            int width = c.get("width").asInt();
            int height = c.get("height").asInt();
            byte[] expected = Base64.getDecoder().decode(c.get("rgb_base64").asText());
            tests.add(DynamicTest.dynamicTest(filter + " " + source.width() + "x" + source.height() + " to " + width
                    + "x" + height, () -> assertArrayEquals(expected,
                            PillowResampler.resize(source, width, height, filter).pixels())));
        }
        assertEquals(6, tests.size());
        return tests;
    }

    @TestFactory
    List<DynamicTest> centerCropEqualsTransformers() throws IOException {
        List<DynamicTest> tests = cases("center_crop", c -> Map.entry("crop to ",
                image -> ImageProcessor.centerCrop(image, c.get("height").asInt(), c.get("width").asInt())));
        assertEquals(5, tests.size());
        return tests;
    }

    /**
     * One test per entry of {@code section}: the operation {@code named} makes of the entry, applied to the source
     * image, gives the entry's width, height and pixels.
     */
    private static List<DynamicTest> cases(String section,
            Function<JsonNode, Map.Entry<String, UnaryOperator<RgbImage>>> named) throws IOException {
        JsonNode reference = reference();
        RgbImage source = source(reference);
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : reference.get(section)) {
            int width = c.get("width").asInt();
            int height = c.get("height").asInt();
            byte[] expected = Base64.getDecoder().decode(c.get("rgb_base64").asText());
            Map.Entry<String, UnaryOperator<RgbImage>> operation = named.apply(c);
            tests.add(DynamicTest.dynamicTest(operation.getKey() + width + "x" + height, () -> {
                RgbImage result = operation.getValue().apply(source);
                assertEquals(width, result.width());
                assertEquals(height, result.height());
                assertArrayEquals(expected, result.pixels());
            }));
        }
        return tests;
    }
}
