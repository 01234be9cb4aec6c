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
 * Turns RGB images into the vision tower's {@code pixel_values}: the reference's {@code CLIPImageProcessor}. Per
 * image, each step as its {@link PreprocessorConfig} switches it: resize with Pillow's filter (Florence-2: to a fixed
 * {@code height × width}, aspect ratio not kept), cut the center crop, multiply by {@code rescale_factor}, apply
 * {@code (x - mean) / std} per channel, lay out channels first.
 *
 * <p>The float arithmetic is numpy's, so results match the reference bit for bit, not just closely: HF's
 * {@code rescale} computes {@code uint8 → float64 × factor} and casts to float32; {@code normalize} then casts
 * mean and std to float32 and computes {@code (x - mean) / std} in float32. Java's float and double operations
 * round exactly as numpy's do.
 *
 * <p>Output: a host F32 tensor {@code [batch, 3, height, width]} in the caller's arena, plus the resized (and
 * cropped) uint8 images (the {@code resized_uint8_hwc} tap).
 */
public final class ImageProcessor {
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The processor's settings file in a model folder. */
    public static final String CONFIG_FILE = "preprocessor_config.json";

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
        return new ImageProcessor(PreprocessorConfig.read(modelDir.resolve(CONFIG_FILE)));
    }

    /** The settings this processor applies. */
    public PreprocessorConfig config() {
        return config;
    }

    /** The images as the model sees them, and the resized (and cropped) uint8 images they came from. */
    public record Processed(Tensor pixelValues, List<RgbImage> resized) {}

    /**
     * {@code image} resized and center-cropped as the reference does, each step only where the config turns it on.
     *
     * @throws InvalidInputException when a shortest-edge resize would make a side longer than
     *                               {@link PreprocessorConfig#MAX_SIDE}
     */
    public RgbImage resizeAndCrop(RgbImage image) {
        RgbImage resized = image;
        if (config.doResize()) {
            int[] size = resizedSize(image.height(), image.width());
            resized = PillowResampler.resize(image, size[1], size[0], config.resample());
        }
        return config.doCenterCrop() ? centerCrop(resized, config.cropHeight(), config.cropWidth()) : resized;
    }

    /**
     * The {@code {height, width}} {@link #resizeAndCrop} gives an image of {@code height × width}, found without its
     * pixels.
     *
     * @throws InvalidInputException as {@link #resizeAndCrop} does
     */
    public int[] outputSize(int height, int width) {
        int[] resized = config.doResize() ? resizedSize(height, width) : new int[] {height, width};
        return config.doCenterCrop() ? new int[] {config.cropHeight(), config.cropWidth()} : resized;
    }

    private int[] resizedSize(int height, int width) {
        try {
            return config.size().resizedFrom(height, width);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(e.getMessage());
        }
    }

    /**
     * {@code image_transforms.center_crop}: the middle {@code height × width}, the offset rounded down where the
     * image is larger, zeros around it (the image offset rounded up) where it is smaller.
     */
    static RgbImage centerCrop(RgbImage image, int height, int width) {
        if (image.height() == height && image.width() == width) {
            return image;
        }
        int top = cropOffset(image.height(), height);
        int left = cropOffset(image.width(), width);
        byte[] pixels = new byte[height * width * 3];
        for (int y = 0; y < height; y++) {
            int sourceY = y + top;
            if (sourceY < 0 || sourceY >= image.height()) {
                continue;
            }
            int firstX = Math.max(0, -left);
            int lastX = Math.min(width, image.width() - left);
            if (lastX > firstX) {
                System.arraycopy(image.pixels(), (sourceY * image.width() + firstX + left) * 3, pixels,
                        (y * width + firstX) * 3, (lastX - firstX) * 3);
            }
        }
        return new RgbImage(width, height, pixels);
    }

    /** Where the crop starts in the image along one side: negative by the zero padding's size where it is smaller. */
    private static int cropOffset(int imageSide, int cropSide) {
        return imageSide >= cropSide ? (imageSide - cropSide) / 2 : -((cropSide - imageSide + 1) / 2);
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
        List<RgbImage> resized = images.stream().map(this::resizeAndCrop).toList();
        int width = resized.getFirst().width();
        int height = resized.getFirst().height();
        for (int i = 1; i < resized.size(); i++) {
            RgbImage image = resized.get(i);
            if (image.width() != width || image.height() != height) {
                throw new InvalidInputException("image " + i + " comes out " + image.width() + "x" + image.height()
                        + " but image 0 " + width + "x" + height + "; a batch needs one size (this config resizes"
                        + " each image to a size of its own)");
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
