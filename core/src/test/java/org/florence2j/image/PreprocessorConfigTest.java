package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading {@code preprocessor_config.json} as {@code CLIPImageProcessor} does: the tiny golden model's file, its
 * {@code __init__} defaults for absent keys, {@code None} for null ones, the size forms, and what is refused.
 */
class PreprocessorConfigTest {
    @TempDir
    Path temp;

    @Test
    void readsTheGoldenModelsConfig() {
        PreprocessorConfig config = PreprocessorConfig.read(
                TestImages.resource("/golden/tiny/model/preprocessor_config.json"));
        assertEquals(PreprocessorConfig.fixedSize(96, 96, PillowResampler.Filter.BICUBIC,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225)), config);
    }

    @Test
    void absentKeysTakeClipImageProcessorDefaults() throws IOException {
        PreprocessorConfig config = PreprocessorConfig.read(write("{}"));
        assertEquals(new PreprocessorConfig(true, PreprocessorConfig.Size.shortestEdge(224),
                PillowResampler.Filter.BICUBIC, true, 224, 224, true, 1.0 / 255, true,
                List.of(0.48145466, 0.4578275, 0.40821073), List.of(0.26862954, 0.26130258, 0.27577711)), config);
    }

    @Test
    void nullKeysAreNoneAndTurnTheirStepOff() throws IOException {
        PreprocessorConfig config = PreprocessorConfig.read(write("""
                {"do_resize": null, "do_center_crop": null, "do_rescale": null, "do_normalize": null,
                 "resample": null, "size": null, "crop_size": null, "image_mean": null, "image_std": null}
                """));
        assertFalse(config.doResize() || config.doCenterCrop() || config.doRescale() || config.doNormalize());
        assertEquals(PreprocessorConfig.Size.shortestEdge(224), config.size());
    }

    @Test
    void aNullResampleIsRefusedWhileResizing() throws IOException {
        // validate_preprocess_arguments: "size and resample must be specified if do_resize is True."
        Path file = write("""
                {"do_resize": true, "size": {"height": 8, "width": 8}, "resample": null}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("resample is null while do_resize is on"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void sizeAndCropTakeEveryFormTheReferenceAccepts() throws IOException {
        PreprocessorConfig config = PreprocessorConfig.read(write("""
                {"size": 300, "crop_size": 256, "image_mean": 0.5, "image_std": [1, 2, 3], "resample": 4}
                """));
        assertEquals(PreprocessorConfig.Size.shortestEdge(300), config.size());
        assertEquals(256, config.cropHeight());
        assertEquals(256, config.cropWidth());
        assertEquals(List.of(0.5, 0.5, 0.5), config.imageMean());
        assertEquals(PillowResampler.Filter.BOX, config.resample());
        config = PreprocessorConfig.read(write("""
                {"size": {"shortest_edge": 64}, "crop_size": {"height": 32, "width": 48}}
                """));
        assertEquals(PreprocessorConfig.Size.shortestEdge(64), config.size());
        assertEquals(32, config.cropHeight());
        assertEquals(48, config.cropWidth());
        // convert_to_size_dict reads a list as (height, width).
        config = PreprocessorConfig.read(write("""
                {"size": [40, 72], "crop_size": [16, 24]}
                """));
        assertEquals(PreprocessorConfig.Size.fixed(40, 72), config.size());
        assertEquals(16, config.cropHeight());
        assertEquals(24, config.cropWidth());
    }

    @Test
    void aShortestEdgeKeepsTheAspectRatioAsTheReferenceRoundsIt() {
        PreprocessorConfig.Size size = PreprocessorConfig.Size.shortestEdge(4);
        // get_resize_output_image_size: the long side is int(4 * long / short).
        assertArrayEquals(new int[] {4, 6}, size.resizedFrom(6, 10));
        assertArrayEquals(new int[] {6, 4}, size.resizedFrom(10, 6));
        assertArrayEquals(new int[] {4, 4}, size.resizedFrom(7, 7));
        assertArrayEquals(new int[] {12, 4}, size.resizedFrom(29, 9));
        assertArrayEquals(new int[] {5, 7}, PreprocessorConfig.Size.fixed(5, 7).resizedFrom(100, 3));
    }

    @Test
    void nearestResampleIsRefusedByName() throws IOException {
        Path file = write("""
                {"size": {"height": 8, "width": 8}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1], "resample": 0}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("resample 0 is not supported"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void aSizeOfAnotherShapeIsRefused() throws IOException {
        Path file = write("""
                {"size": {"longest_edge": 224}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("size must be"), e.getMessage());
    }

    @Test
    void aNullRescaleFactorIsRefusedWhenRescaling() throws IOException {
        Path file = write("""
                {"size": {"height": 8, "width": 8}, "rescale_factor": null}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PreprocessorConfig.read(file));
        assertTrue(e.getMessage().contains("rescale_factor"), e.getMessage());
    }

    @Test
    void theProcessorResizesByTheShortEdgeThenCropsTheCenter() {
        ImageProcessor processor = new ImageProcessor(new PreprocessorConfig(true,
                PreprocessorConfig.Size.shortestEdge(4), PillowResampler.Filter.BILINEAR, true, 2, 3, false, 1.0,
                false, List.of(0.0, 0.0, 0.0), List.of(1.0, 1.0, 1.0)));
        byte[] pixels = new byte[10 * 6 * 3];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 7);
        }
        RgbImage image = new RgbImage(10, 6, pixels);
        RgbImage resized = PillowResampler.resize(image, 6, 4, PillowResampler.Filter.BILINEAR);
        RgbImage expected = ImageProcessor.centerCrop(resized, 2, 3);
        try (Arena arena = Arena.ofConfined()) {
            ImageProcessor.Processed processed = processor.preprocess(image, arena);
            assertArrayEquals(expected.pixels(), processed.resized().getFirst().pixels());
            assertEquals(Shape.of(1, 3, 2, 3), processed.pixelValues().shape());
            // Rows 1..2 and columns 1..3 of the 6x4 resize: (4 - 2) / 2 = 1, (6 - 3) / 2 = 1.
            assertEquals(resized.pixels()[(1 * 6 + 1) * 3], expected.pixels()[0]);
        }
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
        ImageProcessor processor = new ImageProcessor(new PreprocessorConfig(false,
                PreprocessorConfig.Size.fixed(8, 8), PillowResampler.Filter.BICUBIC, false, 8, 8, true, 1.0 / 255,
                false, List.of(0.0, 0.0, 0.0), List.of(1.0, 1.0, 1.0)));
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


    @Test
    void missingFileIsMissing() {
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> PreprocessorConfig.read(temp.resolve("preprocessor_config.json")));
        assertTrue(e.getMessage().endsWith("preprocessor_config.json: is missing"), e.getMessage());
    }

    /**
     * {@link ImageProcessor#outputSize} (what a request is sized by before its pixels are touched) gives the size
     * {@link ImageProcessor#resizeAndCrop} makes, for each way a config can resize and crop.
     */
    @Test
    void outputSizeIsTheSizeResizeAndCropMakes() throws IOException {
        List<String> configs = List.of("{\"size\": {\"height\": 96, \"width\": 64}, \"do_center_crop\": false}",
                "{\"size\": {\"shortest_edge\": 40}, \"do_center_crop\": false}", "{\"size\": 50}",
                "{\"do_resize\": false, \"do_center_crop\": false}", "{\"do_resize\": false, \"crop_size\": 20}");
        int[][] sizes = {{29, 37}, {160, 160}, {7, 90}, {90, 7}};
        for (String json : configs) {
            ImageProcessor processor = new ImageProcessor(PreprocessorConfig.read(write(json)));
            for (int[] size : sizes) {
                byte[] black = new byte[size[0] * size[1] * 3];
                RgbImage made = processor.resizeAndCrop(new RgbImage(size[1], size[0], black));
                assertArrayEquals(new int[] {made.height(), made.width()}, processor.outputSize(size[0], size[1]),
                        json + " on " + size[1] + "x" + size[0]);
            }
        }
    }

    private Path write(String json) throws IOException {
        return Files.writeString(temp.resolve("preprocessor_config.json"), json);
    }
}
