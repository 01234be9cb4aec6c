package org.florence2j.image;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.florence2j.checkpoint.CheckpointException;

/**
 * The image half of {@code preprocessor_config.json}: what the reference's {@code CLIPImageProcessor} does to an
 * image before the vision tower. Keys absent from the file take {@code CLIPImageProcessor}'s defaults (resize on,
 * bicubic, rescale by 1/255, normalise on); {@code size}, {@code image_mean} and {@code image_std} must be given,
 * since every Florence-2 checkpoint gives them and CLIP's own defaults would silently be wrong for Florence-2.
 *
 * @param doResize      whether to resize to {@code height × width} (aspect ratio not kept)
 * @param height        target rows ({@code size.height})
 * @param width         target columns ({@code size.width})
 * @param resample      Pillow's resampling filter ({@code resample}; 3 = bicubic)
 * @param doRescale     whether to multiply the uint8 samples by {@code rescaleFactor}
 * @param rescaleFactor the factor, 1/255 by default
 * @param doNormalize   whether to apply {@code (x - mean) / std} per channel
 * @param imageMean     per-channel mean, R G B
 * @param imageStd      per-channel standard deviation, R G B
 */
public record PreprocessorConfig(
        boolean doResize,
        int height,
        int width,
        PillowResampler.Filter resample,
        boolean doRescale,
        double rescaleFactor,
        boolean doNormalize,
        List<Double> imageMean,
        List<Double> imageStd) {

    /**
     * Largest side a config may ask for. Florence-2 uses 768; its learned position table (50 rows of 32-pixel
     * patches) ends at 1600, so anything far beyond is a corrupt or hostile file, not a model.
     */
    public static final int MAX_SIDE = 8192;

    private static final ObjectMapper JSON = new ObjectMapper();

    public PreprocessorConfig {
        if (height <= 0 || width <= 0 || height > MAX_SIDE || width > MAX_SIDE) {
            throw new IllegalArgumentException("preprocessor size must be 1.." + MAX_SIDE + " per side, got height "
                    + height + " width " + width);
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
     * Reads {@code file}.
     *
     * @throws CheckpointException naming the file when it is unreadable, not JSON, or asks for something this
     *                             processor does not do
     */
    public static PreprocessorConfig read(Path file) {
        try {
            return JSON.readValue(Files.readString(file), Json.class).toConfig();
        } catch (IOException | IllegalArgumentException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException iae ? iae : e;
            throw new CheckpointException(file, null, -1, "is not a usable preprocessor config: "
                    + cause.getMessage(), e);
        }
    }

    /** The file's fields as written, before defaults and checks. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    private record Json(
            @JsonProperty("do_resize") Boolean doResize,
            @JsonProperty("size") JsonNode size,
            @JsonProperty("resample") Integer resample,
            @JsonProperty("do_rescale") Boolean doRescale,
            @JsonProperty("rescale_factor") Double rescaleFactor,
            @JsonProperty("do_normalize") Boolean doNormalize,
            @JsonProperty("image_mean") List<Double> imageMean,
            @JsonProperty("image_std") List<Double> imageStd,
            @JsonProperty("do_center_crop") Boolean doCenterCrop) {

        @JsonCreator
        private Json {}

        private PreprocessorConfig toConfig() {
            if (size == null || !size.path("height").canConvertToInt() || !size.path("width").canConvertToInt()) {
                throw new IllegalArgumentException("size must be {\"height\": H, \"width\": W} (Florence-2 resizes "
                        + "to a fixed square), got " + size);
            }
            if (Boolean.TRUE.equals(doCenterCrop)) {
                throw new IllegalArgumentException("do_center_crop is not supported (Florence-2 does not crop)");
            }
            if (imageMean == null || imageStd == null) {
                throw new IllegalArgumentException("image_mean and image_std must be given");
            }
            return new PreprocessorConfig(
                    doResize == null || doResize,
                    size.get("height").asInt(),
                    size.get("width").asInt(),
                    PillowResampler.Filter.ofPillowId(resample == null ? 3 : resample),
                    doRescale == null || doRescale,
                    rescaleFactor == null ? 1.0 / 255 : rescaleFactor,
                    doNormalize == null || doNormalize,
                    imageMean,
                    imageStd);
        }
    }
}
