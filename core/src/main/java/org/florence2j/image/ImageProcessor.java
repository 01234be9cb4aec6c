package org.florence2j.image;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Turns RGB images into the vision tower's {@code pixel_values}: the reference's {@code CLIPImageProcessor} as
 * Florence-2 configures it. Per image: resize to {@code height × width} with Pillow's filter (aspect ratio not
 * kept), multiply by {@code rescale_factor}, apply {@code (x - mean) / std} per channel, lay out channels first.
 *
 * <p>The float arithmetic is numpy's, so results match the reference bit for bit, not just closely: HF's
 * {@code rescale} computes {@code uint8 → float64 × factor} and casts to float32; {@code normalize} then casts
 * mean and std to float32 and computes {@code (x - mean) / std} in float32. Java's float and double operations
 * round exactly as numpy's do.
 *
 * <p>Output: a host F32 tensor {@code [batch, 3, height, width]} in the caller's arena, plus the resized uint8
 * images (the {@code resized_uint8_hwc} tap).
 */
public final class ImageProcessor {
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final PreprocessorConfig config;
    private final float[] mean; // [3], float32 as numpy casts it
    private final float[] std; // [3]

    /** A processor applying {@code config}. */
    public ImageProcessor(PreprocessorConfig config) {
        this.config = config;
        this.mean = new float[3];
        this.std = new float[3];
        for (int channel = 0; channel < 3; channel++) {
            mean[channel] = config.imageMean().get(channel).floatValue();
            std[channel] = config.imageStd().get(channel).floatValue();
        }
    }

    /**
     * The processor of a model folder, from its {@code preprocessor_config.json}.
     *
     * @throws org.florence2j.checkpoint.CheckpointException naming the file when it is missing or unusable
     */
    public static ImageProcessor load(Path modelDir) {
        return new ImageProcessor(PreprocessorConfig.read(modelDir.resolve("preprocessor_config.json")));
    }

    /** The settings this processor applies. */
    public PreprocessorConfig config() {
        return config;
    }

    /** The images as the model sees them, and the resized uint8 images they came from. */
    public record Processed(Tensor pixelValues, List<RgbImage> resized) {}

    /** {@code image} resized as the reference does, or unchanged when the config turns resizing off. */
    public RgbImage resize(RgbImage image) {
        if (!config.doResize()) {
            return image;
        }
        return PillowResampler.resize(image, config.width(), config.height(), config.resample());
    }

    /**
     * Preprocesses a batch.
     *
     * @param images at least one image
     * @param owner  the arena that will own {@link Processed#pixelValues()}
     * @throws InvalidInputException when resizing is off and the images differ in size
     */
    public Processed preprocess(List<RgbImage> images, Arena owner) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("preprocess needs at least one image");
        }
        List<RgbImage> resized = images.stream().map(this::resize).toList();
        int width = resized.getFirst().width();
        int height = resized.getFirst().height();
        for (int i = 1; i < resized.size(); i++) {
            RgbImage image = resized.get(i);
            if (image.width() != width || image.height() != height) {
                throw new InvalidInputException("image " + i + " is " + image.width() + "x" + image.height()
                        + " but image 0 is " + width + "x" + height + "; with do_resize off a batch needs one size");
            }
        }
        Tensor pixelValues = Tensor.allocateHost(DType.F32, Shape.of(resized.size(), 3, height, width), owner);
        float[] plane = new float[width * height]; // [height, width] of one channel
        long planeBytes = (long) plane.length * Float.BYTES;
        for (int b = 0; b < resized.size(); b++) {
            byte[] pixels = resized.get(b).pixels();
            for (int channel = 0; channel < 3; channel++) {
                for (int i = 0; i < plane.length; i++) {
                    plane[i] = normalize(pixels[i * 3 + channel] & 0xFF, channel);
                }
                MemorySegment.copy(plane, 0, pixelValues.memory(), F32_LE, (b * 3L + channel) * planeBytes,
                        plane.length);
            }
        }
        return new Processed(pixelValues, resized);
    }

    /** Preprocesses one image: {@link Processed#pixelValues()} is {@code [1, 3, height, width]}. */
    public Processed preprocess(RgbImage image, Arena owner) {
        return preprocess(List.of(image), owner);
    }

    private float normalize(int sample, int channel) {
        float value = config.doRescale() ? (float) (sample * config.rescaleFactor()) : sample;
        return config.doNormalize() ? (value - mean[channel]) / std[channel] : value;
    }
}
