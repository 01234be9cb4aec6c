package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.florence2j.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading {@code preprocessor_config.json}: the tiny golden model's file, CLIP defaults, and what is refused. */
class PreprocessorConfigTest {
    @TempDir
    Path temp;

    @Test
    void readsTheGoldenModelsConfig() {
        PreprocessorConfig config = PreprocessorConfig.read(
                TestImages.resource("/golden/tiny/model/preprocessor_config.json"));
        assertEquals(new PreprocessorConfig(true, 96, 96, PillowResampler.Filter.BICUBIC, true, 1.0 / 255, true,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225)), config);
    }

    @Test
    void absentFlagsTakeClipImageProcessorDefaults() throws IOException {
        PreprocessorConfig config = PreprocessorConfig.read(write("""
                {"size": {"height": 768, "width": 768}, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
                """));
        assertTrue(config.doResize() && config.doRescale() && config.doNormalize());
        assertEquals(PillowResampler.Filter.BICUBIC, config.resample());
        assertEquals(1.0 / 255, config.rescaleFactor());
    }

    @Test
    void unsupportedResampleIsRefusedByName() throws IOException {
        Path file = write("""
                {"size": {"height": 8, "width": 8}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1], "resample": 1}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("resample 1 is not supported"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void shortestEdgeSizeIsRefused() throws IOException {
        Path file = write("""
                {"size": {"shortest_edge": 224}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("size must be"), e.getMessage());
    }

    @Test
    void nullMeanOrStdEntryIsRefused() throws IOException {
        Path file = write("""
                {"size": {"height": 8, "width": 8}, "image_mean": [null, 0, 0], "image_std": [1, 1, 1]}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("image_mean"), e.getMessage());
    }

    @Test
    void anAbsurdSizeIsRefusedBeforeAnyBufferIsMade() throws IOException {
        Path file = write("""
                {"size": {"height": 100000, "width": 100000}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("100000"), e.getMessage());
    }

    @Test
    void withoutResizeABatchNeedsOneSize() {
        ImageProcessor processor = new ImageProcessor(new PreprocessorConfig(false, 8, 8,
                PillowResampler.Filter.BICUBIC, true, 1.0 / 255, false, List.of(0.0, 0.0, 0.0),
                List.of(1.0, 1.0, 1.0)));
        RgbImage small = new RgbImage(2, 1, new byte[] {0, 51, (byte) 255, 1, 2, 3});
        try (Arena arena = Arena.ofConfined()) {
            float[] values = processor.preprocess(small, arena).pixelValues().toFloatArray();
            // [1, 3, 1, 2]: R plane, G plane, B plane, each x/255 only.
            float[] expected = {0f, (float) (1 / 255.0), (float) (51 / 255.0), (float) (2 / 255.0), 1f,
                (float) (3 / 255.0)};
            assertArrayEquals(expected, values);
            RgbImage other = new RgbImage(1, 1, new byte[3]);
            assertThrows(InvalidInputException.class, () -> processor.preprocess(List.of(small, other), arena));
        }
    }


    private Path write(String json) throws IOException {
        return Files.writeString(temp.resolve("preprocessor_config.json"), json);
    }
}
