package org.florence2j.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.JsonFiles;

/**
 * The image half of {@code preprocessor_config.json}: what the reference's {@code CLIPImageProcessor} does to an
 * image before the vision tower, read as that class reads it. A key absent from the file takes its
 * {@code __init__} default (resize on, {@code {"shortest_edge": 224}}, bicubic, center crop on at 224 × 224, rescale
 * by 1/255, normalise on with OpenAI CLIP's mean and std); a key written as {@code null} is stored as {@code None},
 * which turns a step off. A {@code null} {@code resample} with the resize on is refused, as the reference's
 * {@code validate_preprocess_arguments} raises for it. A size may also be a {@code [height, width]} list, as
 * {@code get_size_dict} reads one. Florence-2's checkpoints set every key: a fixed square size and no crop.
 *
 * @param doResize      whether to resize ({@code do_resize})
 * @param size          the resize target ({@code size})
 * @param resample      Pillow's resampling filter ({@code resample})
 * @param doCenterCrop  whether to cut {@code cropHeight × cropWidth} out of the middle after resizing, padding with
 *                      zeros where the image is smaller ({@code do_center_crop})
 * @param cropHeight    rows of the crop ({@code crop_size.height})
 * @param cropWidth     columns of the crop ({@code crop_size.width})
 * @param doRescale     whether to multiply the uint8 samples by {@code rescaleFactor}
 * @param rescaleFactor the factor, 1/255 by default
 * @param doNormalize   whether to apply {@code (x - mean) / std} per channel
 * @param imageMean     per-channel mean, R G B
 * @param imageStd      per-channel standard deviation, R G B
 */
public record PreprocessorConfig(
        boolean doResize,
        Size size,
        PillowResampler.Filter resample,
        boolean doCenterCrop,
        int cropHeight,
        int cropWidth,
        boolean doRescale,
        double rescaleFactor,
        boolean doNormalize,
        List<Double> imageMean,
        List<Double> imageStd) {

    /**
     * Largest side a config may ask for, and an image be resized to. Florence-2 uses 768; its learned position
     * table (50 rows of 32-pixel patches) ends at 1600, so anything far beyond is a corrupt or hostile file, not a
     * model.
     */
    public static final int MAX_SIDE = 8192;

    /** {@code OPENAI_CLIP_MEAN}, {@code CLIPImageProcessor}'s default {@code image_mean}. */
    static final List<Double> CLIP_MEAN = List.of(0.48145466, 0.4578275, 0.40821073);
    /** {@code OPENAI_CLIP_STD}, its default {@code image_std}. */
    static final List<Double> CLIP_STD = List.of(0.26862954, 0.26130258, 0.27577711);
    /** {@code CLIPImageProcessor}'s default {@code size} and {@code crop_size} side. */
    static final int CLIP_SIDE = 224;

    /**
     * A resize target: a fixed {@code height × width} (aspect ratio not kept), or, when {@code shortestEdge} is
     * positive, the short side scaled to it and the long side in proportion.
     */
    public record Size(int height, int width, int shortestEdge) {
        public Size {
            boolean fixed = height > 0 && width > 0 && shortestEdge == 0;
            boolean edge = height == 0 && width == 0 && shortestEdge > 0;
            if (!fixed && !edge || Math.max(Math.max(height, width), shortestEdge) > MAX_SIDE) {
                throw new IllegalArgumentException("size must be a height and width, or a shortest edge, of 1.."
                        + MAX_SIDE + " pixels: height " + height + " width " + width + " shortest_edge "
                        + shortestEdge);
            }
        }

        /** {@code {"height": height, "width": width}}. */
        public static Size fixed(int height, int width) {
            return new Size(height, width, 0);
        }

        /** {@code {"shortest_edge": edge}}. */
        public static Size shortestEdge(int edge) {
            return new Size(0, 0, edge);
        }

        /**
         * The {@code [height, width]} an image of {@code imageHeight × imageWidth} is resized to: the reference's
         * {@code get_resize_output_image_size} ({@code default_to_square} for a fixed size; for a shortest edge
         * the long side is {@code int(edge * long / short)}).
         */
        public int[] resizedFrom(int imageHeight, int imageWidth) {
            if (shortestEdge == 0) {
                return new int[] {height, width};
            }
            int shortSide = Math.min(imageHeight, imageWidth);
            int longSide = Math.max(imageHeight, imageWidth);
            long newLong = (long) ((double) ((long) shortestEdge * longSide) / shortSide);
            if (newLong > MAX_SIDE) {
                throw new IllegalArgumentException("an image of " + imageWidth + "x" + imageHeight
                        + " would be resized to a long side of " + newLong + " pixels (shortest_edge "
                        + shortestEdge + "); at most " + MAX_SIDE + " are allowed");
            }
            return imageWidth <= imageHeight ? new int[] {(int) newLong, shortestEdge}
                    : new int[] {shortestEdge, (int) newLong};
        }
    }

    public PreprocessorConfig {
        Objects.requireNonNull(size, "size");
        Objects.requireNonNull(resample, "resample");
        if (cropHeight <= 0 || cropWidth <= 0 || cropHeight > MAX_SIDE || cropWidth > MAX_SIDE) {
            throw new IllegalArgumentException("crop_size must be 1.." + MAX_SIDE + " per side, got height "
                    + cropHeight + " width " + cropWidth);
        }
        if (imageMean == null || imageStd == null || imageMean.stream().anyMatch(Objects::isNull)
                || imageStd.stream().anyMatch(Objects::isNull)
                || imageMean.size() != 3 || imageStd.size() != 3) {
            throw new IllegalArgumentException("image_mean and image_std need 3 values (R, G, B), got "
                    + imageMean + " and " + imageStd);
        }
        imageMean = List.copyOf(imageMean);
        imageStd = List.copyOf(imageStd);
        for (double std : imageStd) {
            if (!(std > 0)) {
                throw new IllegalArgumentException("image_std values must be positive, got " + imageStd);
            }
        }
    }

    /**
     * Florence-2's settings: resize to a fixed {@code height × width} with {@code resample}, no crop, rescale by
     * 1/255 and normalise.
     */
    public static PreprocessorConfig fixedSize(int height, int width, PillowResampler.Filter resample,
            List<Double> imageMean, List<Double> imageStd) {
        return new PreprocessorConfig(true, Size.fixed(height, width), resample, false, height, width, true,
                1.0 / 255, true, imageMean, imageStd);
    }

    /**
     * The {@code height × width} every image comes out at, when the config fixes it: the crop size when it center
     * crops, else a fixed resize target; empty when the size follows the image's (a shortest edge, or no resize).
     */
    public Optional<Size> fixedOutputSize() {
        if (doCenterCrop) {
            return Optional.of(Size.fixed(cropHeight, cropWidth));
        }
        return doResize && size.shortestEdge() == 0 ? Optional.of(size) : Optional.empty();
    }

    /**
     * Reads {@code file}.
     *
     * @throws CheckpointException naming the file when it is missing, unreadable, not JSON, or asks for something
     *                             this processor does not do
     */
    public static PreprocessorConfig read(Path file) {
        JsonNode root = JsonFiles.readObject(file);
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, null, -1, "is not a usable preprocessor config: " + e.getMessage(),
                    e);
        }
    }

    /**
     * Parses an already-read {@code preprocessor_config.json}.
     *
     * @throws IllegalArgumentException naming the key when a value is mistyped or not supported
     */
    public static PreprocessorConfig parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a preprocessor config is a JSON object");
        }
        int[] crop = cropSize(root.get("crop_size"));
        boolean doRescale = flag(root, "do_rescale");
        JsonNode factor = root.get("rescale_factor");
        if (doRescale && factor != null && !factor.isNumber()) {
            throw new IllegalArgumentException("rescale_factor must be a number, got " + factor);
        }
        boolean doResize = flag(root, "do_resize");
        return new PreprocessorConfig(
                doResize,
                size(root.get("size")),
                resample(root.get("resample"), doResize),
                flag(root, "do_center_crop"),
                crop[0],
                crop[1],
                doRescale,
                factor == null || !factor.isNumber() ? 1.0 / 255 : factor.asDouble(),
                flag(root, "do_normalize"),
                channels("image_mean", root.get("image_mean"), CLIP_MEAN),
                channels("image_std", root.get("image_std"), CLIP_STD));
    }

    /** A step's switch: absent is {@code __init__}'s {@code True}, {@code null} is {@code None} (off). */
    private static boolean flag(JsonNode root, String key) {
        JsonNode value = root.get(key);
        if (value == null) {
            return true;
        }
        if (!value.isNull() && !value.isBoolean()) {
            throw new IllegalArgumentException(key + " must be true, false or null, got " + value);
        }
        return value.asBoolean();
    }

    private static Size size(JsonNode size) {
        if (size == null || size.isNull()) {
            return Size.shortestEdge(CLIP_SIDE);
        }
        if (size.canConvertToInt()) {
            return Size.shortestEdge(size.asInt()); // get_size_dict(int, default_to_square=False)
        }
        if (size.path("shortest_edge").canConvertToInt()) {
            return Size.shortestEdge(size.get("shortest_edge").asInt());
        }
        int[] heightWidth = heightAndWidth(size);
        if (heightWidth != null) {
            return Size.fixed(heightWidth[0], heightWidth[1]);
        }
        throw new IllegalArgumentException("size must be {\"height\": H, \"width\": W}, [H, W],"
                + " {\"shortest_edge\": S} or an integer, got " + size);
    }

    private static int[] cropSize(JsonNode crop) {
        if (crop == null || crop.isNull()) {
            return new int[] {CLIP_SIDE, CLIP_SIDE};
        }
        if (crop.canConvertToInt()) {
            return new int[] {crop.asInt(), crop.asInt()};
        }
        int[] heightWidth = heightAndWidth(crop);
        if (heightWidth != null) {
            return heightWidth;
        }
        throw new IllegalArgumentException("crop_size must be {\"height\": H, \"width\": W}, [H, W] or an integer,"
                + " got " + crop);
    }

    /**
     * {@code [height, width]} of a {@code {"height": H, "width": W}} object or an {@code [H, W]} list (
     * {@code convert_to_size_dict}'s {@code height_width_order}), or null when it is neither.
     */
    private static int[] heightAndWidth(JsonNode node) {
        if (node.path("height").canConvertToInt() && node.path("width").canConvertToInt()) {
            return new int[] {node.get("height").asInt(), node.get("width").asInt()};
        }
        if (node.isArray() && node.size() == 2 && node.get(0).canConvertToInt() && node.get(1).canConvertToInt()) {
            return new int[] {node.get(0).asInt(), node.get(1).asInt()};
        }
        return null;
    }

    private static PillowResampler.Filter resample(JsonNode resample, boolean doResize) {
        if (resample == null) {
            return PillowResampler.Filter.BICUBIC;
        }
        if (resample.isNull()) {
            if (doResize) {
                throw new IllegalArgumentException("resample is null while do_resize is on (the reference raises"
                        + " \"size and resample must be specified if do_resize is True.\")");
            }
            return PillowResampler.Filter.BICUBIC; // never used: nothing is resized
        }
        if (!resample.canConvertToInt()) {
            throw new IllegalArgumentException("resample must be a Pillow filter id, got " + resample);
        }
        return PillowResampler.Filter.ofPillowId(resample.asInt());
    }

    /** A per-channel value: absent or null takes CLIP's, a number is repeated for each channel. */
    private static List<Double> channels(String key, JsonNode value, List<Double> clipDefault) {
        if (value == null || value.isNull()) {
            return clipDefault;
        }
        if (value.isNumber()) {
            return List.of(value.asDouble(), value.asDouble(), value.asDouble());
        }
        if (!value.isArray() || value.size() != 3) {
            throw new IllegalArgumentException(key + " needs 3 values (R, G, B) or one number, got " + value);
        }
        Double[] values = new Double[3];
        for (int i = 0; i < 3; i++) {
            if (!value.get(i).isNumber()) {
                throw new IllegalArgumentException(key + " needs 3 numbers (R, G, B), got " + value);
            }
            values[i] = value.get(i).asDouble();
        }
        return List.of(values);
    }
}
