package org.florence2j.config;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Objects;

/**
 * The DaViT vision tower's {@code vision_config}, one list entry per stage. The stages are those of
 * {@code dim_embed}; {@code num_heads} and {@code num_groups} must match it, as the reference asserts, while the other
 * lists may be longer and keep only their first entries, since the reference indexes them by stage and never reads
 * the rest.
 *
 * @param dimEmbed          channels of each stage ({@code dim_embed}; native {@code embed_dim})
 * @param numHeads          window-attention heads of each stage
 * @param numGroups         channel-attention groups of each stage
 * @param depths            number of (spatial, channel) block pairs of each stage
 * @param patchSize         kernel of each stage's ConvEmbed
 * @param patchStride       stride of each stage's ConvEmbed
 * @param patchPadding      padding of each stage's ConvEmbed
 * @param patchPrenorm      whether each stage's ConvEmbed normalises before its conv (else after)
 * @param windowSize        window side of window attention
 * @param mlpRatio          the MLP's hidden width over the stage's ({@code mlp_ratio}; 4 in the remote code)
 * @param qkvBias           whether the attention q/k/v projections have a bias ({@code qkv_bias}; always in the
 *                          remote code)
 * @param projectionDim     width of the projected image features
 * @param maxPosEmbeddings  rows of each learned 2-D position table ({@code image_pos_embed.max_pos_embeddings};
 *                          native {@code max_position_embeddings})
 * @param maxTemporalEmbeddings rows of the cosine temporal table
 * @param imageFeatureSource which pooled features form the image tokens
 * @param implementation    which reference the config was read for, where the two compute differently
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VisionConfig(
        @JsonProperty("dim_embed") List<Integer> dimEmbed,
        @JsonProperty("num_heads") List<Integer> numHeads,
        @JsonProperty("num_groups") List<Integer> numGroups,
        @JsonProperty("depths") List<Integer> depths,
        @JsonProperty("patch_size") List<Integer> patchSize,
        @JsonProperty("patch_stride") List<Integer> patchStride,
        @JsonProperty("patch_padding") List<Integer> patchPadding,
        @JsonProperty("patch_prenorm") List<Boolean> patchPrenorm,
        @JsonProperty("window_size") int windowSize,
        @JsonProperty("mlp_ratio") double mlpRatio,
        @JsonProperty("qkv_bias") boolean qkvBias,
        @JsonProperty("projection_dim") int projectionDim,
        int maxPosEmbeddings,
        int maxTemporalEmbeddings,
        @JsonProperty("image_feature_source") List<String> imageFeatureSource,
        Implementation implementation) {

    /**
     * The reference a config is read for. The remote code ({@code modeling_florence2.py} of
     * {@code microsoft/Florence-2-*}, {@link ConfigReader}) and transformers' native Florence-2
     * ({@code modeling_florence2.py} in transformers, {@link NativeConfigReader}) compute differently from the same
     * fields in a few places, which the model follows by this.
     */
    public enum Implementation {
        /**
         * The remote code: stage 0's {@code ConvEmbed} never applies a configured pre-norm (it pre-normalises only
         * a token sequence, and stage 0 gets the image); the position embedding views the feature map as a square.
         */
        REMOTE_CODE,
        /**
         * The native code: {@code Florence2VisionConvEmbed} applies stage 0's pre-norm to the pixels' channels; the
         * position embedding takes the feature map's own height and width.
         */
        NATIVE
    }

    /** The remote DaViT's MLP width over the stage's: {@code DaViT.from_config} never passes {@code mlp_ratio}. */
    public static final double REMOTE_MLP_RATIO = 4.0;

    /** The reference's {@code x_feat_dict} keys for one frame, the pieces {@code image_feature_source} may list. */
    public static final List<String> FEATURE_SOURCES = List.of("spatial_avg_pool", "temporal_avg_pool", "last_frame");

    /**
     * The largest window side whose attention scores, window_size⁴ values for each head of each window (the reference
     * computes them whole, {@code q @ k.transpose(-2, -1)}), count as an int. Florence-2's windows are 12 wide.
     */
    public static final int MAX_WINDOW_SIZE = 215;

    public VisionConfig {
        Objects.requireNonNull(implementation, "the config reader sets the implementation");
        String dimKey = key(implementation, "dim_embed");
        int stages = dimEmbed == null ? 0 : dimEmbed.size();
        if (stages == 0) {
            throw new IllegalArgumentException("vision_config." + dimKey + " must list at least one stage");
        }
        // Bounds checked here so that an impossible config fails naming its field, not later as a division by
        // zero or a negative shape inside the model.
        // q/k/v's width (3 × dim_embed) is an int; so is the MLP's, checked below.
        requireBetween(dimKey, dimEmbed, 1, Integer.MAX_VALUE / 3);
        // DaViT asserts only len(dim_embed) == len(num_heads) == len(num_groups); the other lists are indexed by
        // stage, so entries past the last stage are never read (a 3-stage config may keep the 4-entry defaults).
        requireOnePerStage("num_heads", numHeads, stages, dimKey);
        requireOnePerStage("num_groups", numGroups, stages, dimKey);
        requireBetween("num_heads", numHeads, 1, Integer.MAX_VALUE);
        requireBetween("num_groups", numGroups, 1, Integer.MAX_VALUE);
        requireDropPathSchedule(depths, stages);
        depths = firstStages("depths", depths, stages, dimKey);
        patchSize = firstStages("patch_size", patchSize, stages, dimKey);
        patchStride = firstStages("patch_stride", patchStride, stages, dimKey);
        patchPadding = firstStages("patch_padding", patchPadding, stages, dimKey);
        patchPrenorm = firstStages("patch_prenorm", patchPrenorm, stages, dimKey);
        requireBetween("depths", depths, 0, Integer.MAX_VALUE);
        requireBetween("patch_size", patchSize, 1, Integer.MAX_VALUE);
        requireBetween("patch_stride", patchStride, 1, Integer.MAX_VALUE);
        requireBetween("patch_padding", patchPadding, 0, Integer.MAX_VALUE);
        if (patchPrenorm.stream().anyMatch(Objects::isNull)) {
            throw new IllegalArgumentException("vision_config.patch_prenorm must hold booleans: " + patchPrenorm);
        }
        for (int stage = 0; stage < stages; stage++) {
            int dim = dimEmbed.get(stage);
            if (dim % numHeads.get(stage) != 0) {
                throw new IllegalArgumentException("vision_config: stage " + stage + " " + dimKey + " " + dim
                        + " is not divisible by num_heads " + numHeads.get(stage));
            }
            if (dim % numGroups.get(stage) != 0) {
                throw new IllegalArgumentException("vision_config: stage " + stage + " " + dimKey + " " + dim
                        + " is not divisible by num_groups " + numGroups.get(stage));
            }
            // Python's int() truncates toward zero, as the cast does; NaN casts to 0 (int() refuses it).
            long hidden = (long) (dim * mlpRatio);
            if (hidden < 1 || hidden > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("vision_config: stage " + stage + " MLP width int(" + dimKey + " "
                        + dim + " × mlp_ratio " + mlpRatio + ") = " + hidden + " must be 1 to " + Integer.MAX_VALUE);
            }
        }
        // A window larger than a feature map is fine (the reference pads the map to whole windows).
        if (windowSize <= 0 || windowSize > MAX_WINDOW_SIZE) {
            throw new IllegalArgumentException("vision_config.window_size must be 1 to " + MAX_WINDOW_SIZE
                    + " (a window's attention scores, window_size⁴ for each head, must count as an int), got "
                    + windowSize);
        }
        if (maxPosEmbeddings <= 0) {
            throw new IllegalArgumentException("vision_config." + key(implementation,
                    "image_pos_embed.max_pos_embeddings") + " must be positive, got " + maxPosEmbeddings);
        }
        if (maxTemporalEmbeddings <= 0) {
            throw new IllegalArgumentException("vision_config." + key(implementation,
                    "visual_temporal_embedding.max_temporal_embeddings") + " must be positive, got "
                    + maxTemporalEmbeddings);
        }
        dimEmbed = List.copyOf(dimEmbed);
        numHeads = List.copyOf(numHeads);
        numGroups = List.copyOf(numGroups);
        depths = List.copyOf(depths);
        patchSize = List.copyOf(patchSize);
        patchStride = List.copyOf(patchStride);
        patchPadding = List.copyOf(patchPadding);
        patchPrenorm = List.copyOf(patchPrenorm);
        if (imageFeatureSource == null || imageFeatureSource.isEmpty()
                || imageFeatureSource.stream().anyMatch(source -> !FEATURE_SOURCES.contains(String.valueOf(source)))) {
            throw new IllegalArgumentException("vision_config.image_feature_source must list some of "
                    + FEATURE_SOURCES + ", got " + imageFeatureSource);
        }
        imageFeatureSource = List.copyOf(imageFeatureSource);
    }

    /** The key {@code implementation}'s config calls the remote key {@code remoteKey} by, for messages. */
    static String key(Implementation implementation, String remoteKey) {
        if (implementation == Implementation.REMOTE_CODE) {
            return remoteKey;
        }
        return switch (remoteKey) {
            case "dim_embed" -> "embed_dim";
            case "image_pos_embed.max_pos_embeddings" -> "max_position_embeddings";
            case "visual_temporal_embedding.max_temporal_embeddings" -> "max_temporal_embeddings";
            default -> remoteKey;
        };
    }

    /**
     * Refuses {@code depths} whose entries past the last stage sum below zero: both references build the drop-path
     * schedule over {@code sum(depths) * 2} (all entries, read or not), which then either has a negative length or
     * too few entries for the stages' blocks, and fails.
     */
    private static void requireDropPathSchedule(List<Integer> depths, int stages) {
        if (depths == null || depths.size() <= stages) {
            return;
        }
        long extra = 0;
        for (Integer depth : depths.subList(stages, depths.size())) {
            if (depth == null) {
                throw new IllegalArgumentException("vision_config.depths must hold integers: " + depths);
            }
            extra += depth;
        }
        if (extra < 0) {
            throw new IllegalArgumentException("vision_config.depths " + depths + ": the entries past the " + stages
                    + " stages sum to " + extra + ", so the reference's drop-path schedule over sum(depths) has"
                    + " fewer entries than the stages' blocks");
        }
    }

    private static void requireBetween(String name, List<Integer> values, int min, int max) {
        for (Integer value : values) {
            if (value == null || value < min || value > max) {
                throw new IllegalArgumentException("vision_config." + name + " must hold integers from " + min
                        + " to " + max + ": " + values);
            }
        }
    }

    private static void requireOnePerStage(String name, List<?> values, int stages, String dimKey) {
        if (values == null || values.size() != stages) {
            throw new IllegalArgumentException("vision_config." + name + " must have one entry per stage of "
                    + dimKey + " (" + stages + "), has " + size(values));
        }
    }

    /** The first {@code stages} entries of {@code values}, which must have that many. */
    private static <T> List<T> firstStages(String name, List<T> values, int stages, String dimKey) {
        if (values == null || values.size() < stages) {
            throw new IllegalArgumentException("vision_config." + name + " must have an entry for each of the "
                    + stages + " stages of " + dimKey + ", has " + size(values));
        }
        return values.subList(0, stages);
    }

    private static String size(List<?> values) {
        return values == null ? "none" : String.valueOf(values.size());
    }

    /** The MLP's hidden width at {@code stage}: {@code int(dim_embed[stage] * mlp_ratio)}, as both references. */
    public int mlpHidden(int stage) {
        return (int) (dimEmbed.get(stage) * mlpRatio);
    }

    /** Number of DaViT stages. */
    public int stages() {
        return dimEmbed.size();
    }

    /**
     * {@code nn.Conv2d}'s output side for an input side of {@code size}, or 0 when the padded input is smaller than
     * the kernel (which {@code nn.Conv2d} refuses).
     */
    public static long convOutputSize(long size, int kernel, int stride, int padding) {
        long padded = size + 2L * padding;
        return size < 1 || padded < kernel ? 0 : (padded - kernel) / stride + 1;
    }

    /** The last stage's feature-map side for an image side of {@code size} pixels (0: too small for a stage). */
    public long featureMapSide(long size) {
        long side = size;
        for (int stage = 0; stage < stages(); stage++) {
            side = convOutputSize(side, patchSize.get(stage), patchStride.get(stage), patchPadding.get(stage));
        }
        return side;
    }

    /** Channels of the last stage, the width of the tokens fed to the projection. */
    public int lastDim() {
        return dimEmbed.get(dimEmbed.size() - 1);
    }
}
