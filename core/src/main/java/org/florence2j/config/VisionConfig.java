package org.florence2j.config;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Objects;

/**
 * The DaViT vision tower's {@code vision_config}, one list entry per stage.
 *
 * @param dimEmbed          channels of each stage
 * @param numHeads          window-attention heads of each stage
 * @param numGroups         channel-attention groups of each stage
 * @param depths            number of (spatial, channel) block pairs of each stage
 * @param patchSize         kernel of each stage's ConvEmbed
 * @param patchStride       stride of each stage's ConvEmbed
 * @param patchPadding      padding of each stage's ConvEmbed
 * @param patchPrenorm      whether each stage's ConvEmbed normalises before its conv (else after)
 * @param windowSize        window side of window attention
 * @param projectionDim     width of the projected image features
 * @param maxPosEmbeddings  rows of each learned 2-D position table ({@code image_pos_embed.max_pos_embeddings})
 * @param maxTemporalEmbeddings rows of the cosine temporal table
 * @param imageFeatureSource which pooled features form the image tokens
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
        @JsonProperty("projection_dim") int projectionDim,
        int maxPosEmbeddings,
        int maxTemporalEmbeddings,
        @JsonProperty("image_feature_source") List<String> imageFeatureSource) {

    /** The DaViT MLP's hidden width is this many times the stage width (the reference's default). */
    public static final int MLP_RATIO = 4;

    public VisionConfig {
        int stages = dimEmbed == null ? 0 : dimEmbed.size();
        if (stages == 0) {
            throw new IllegalArgumentException("vision_config.dim_embed must list at least one stage");
        }
        // Bounds checked here so that an impossible config fails naming its field, not later as a division by
        // zero or a negative shape inside the model.
        requireAtLeast("dim_embed", dimEmbed, stages, 1);
        requireAtLeast("num_heads", numHeads, stages, 1);
        requireAtLeast("num_groups", numGroups, stages, 1);
        requireAtLeast("depths", depths, stages, 0);
        requireAtLeast("patch_size", patchSize, stages, 1);
        requireAtLeast("patch_stride", patchStride, stages, 1);
        requireAtLeast("patch_padding", patchPadding, stages, 0);
        requireStages("patch_prenorm", patchPrenorm, stages);
        if (patchPrenorm.stream().anyMatch(Objects::isNull)) {
            throw new IllegalArgumentException("vision_config.patch_prenorm must hold booleans: " + patchPrenorm);
        }
        for (int stage = 0; stage < stages; stage++) {
            int dim = dimEmbed.get(stage);
            if (dim % numHeads.get(stage) != 0) {
                throw new IllegalArgumentException("vision_config: stage " + stage + " dim_embed " + dim
                        + " is not divisible by num_heads " + numHeads.get(stage));
            }
            if (dim % numGroups.get(stage) != 0) {
                throw new IllegalArgumentException("vision_config: stage " + stage + " dim_embed " + dim
                        + " is not divisible by num_groups " + numGroups.get(stage));
            }
        }
        if (windowSize <= 0) {
            throw new IllegalArgumentException("vision_config.window_size must be positive: " + windowSize);
        }
        if (maxPosEmbeddings <= 0 || maxTemporalEmbeddings <= 0) {
            throw new IllegalArgumentException("vision_config: image_pos_embed.max_pos_embeddings and "
                    + "visual_temporal_embedding.max_temporal_embeddings must be positive");
        }
        dimEmbed = List.copyOf(dimEmbed);
        numHeads = List.copyOf(numHeads);
        numGroups = List.copyOf(numGroups);
        depths = List.copyOf(depths);
        patchSize = List.copyOf(patchSize);
        patchStride = List.copyOf(patchStride);
        patchPadding = List.copyOf(patchPadding);
        patchPrenorm = List.copyOf(patchPrenorm);
        imageFeatureSource = imageFeatureSource == null ? List.of() : List.copyOf(imageFeatureSource);
    }

    private static void requireAtLeast(String name, List<Integer> values, int stages, int min) {
        requireStages(name, values, stages);
        for (Integer value : values) {
            if (value == null || value < min) {
                throw new IllegalArgumentException("vision_config." + name + " must hold integers >= " + min
                        + ": " + values);
            }
        }
    }

    private static void requireStages(String name, List<?> values, int stages) {
        if (values == null || values.size() != stages) {
            throw new IllegalArgumentException("vision_config." + name + " must have one entry per stage ("
                    + stages + "), has " + (values == null ? "none" : values.size()));
        }
    }

    /** Number of DaViT stages. */
    public int stages() {
        return dimEmbed.size();
    }

    /** Channels of the last stage, the width of the tokens fed to the projection. */
    public int lastDim() {
        return dimEmbed.get(dimEmbed.size() - 1);
    }
}
