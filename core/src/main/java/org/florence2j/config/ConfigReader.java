package org.florence2j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.JsonFiles;

/** Reads a remote-code Florence-2 {@code config.json} into {@link Florence2Config}. */
public final class ConfigReader {
    private ConfigReader() {}

    /**
     * Reads and validates {@code file}.
     *
     * @throws CheckpointException naming the file when it is unreadable, not JSON, or inconsistent
     */
    public static Florence2Config read(Path file) {
        JsonNode root = JsonFiles.readObject(file);
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, null, -1, e.getMessage(), e);
        }
    }

    /** Parses an already-read {@code config.json} tree. */
    public static Florence2Config parse(JsonNode root) {
        JsonNode visionNode = root.path("vision_config");
        JsonNode textNode = root.path("text_config");
        if (!visionNode.isObject() || !textNode.isObject()) {
            throw new IllegalArgumentException("config.json needs vision_config and text_config objects");
        }
        requireType(visionNode, "image_pos_embed", "learned_abs_2d");
        requireType(visionNode, "visual_temporal_embedding", "COSINE");
        ObjectNode vision = ConfigDefaults.remoteVision(visionNode);
        vision.put("maxPosEmbeddings",
                ConfigRecords.firstInt(visionNode, "vision_config", "image_pos_embed/max_pos_embeddings"));
        vision.put("maxTemporalEmbeddings", ConfigRecords.firstInt(visionNode, "vision_config",
                "visual_temporal_embedding/max_temporal_embeddings"));
        // DaViT.from_config passes neither: its defaults hold, whatever the config says.
        vision.put("mlp_ratio", VisionConfig.REMOTE_MLP_RATIO);
        vision.put("qkv_bias", true);
        vision.put("implementation", VisionConfig.Implementation.REMOTE_CODE.name());
        // The top-level projection_dim is stored but never read by the reference: vision_config's sizes the
        // projection.
        return ConfigRecords.bind(vision, ConfigDefaults.remoteText(textNode));
    }

    /**
     * Refuses an embedding {@code type} other than the only one the remote code builds: its
     * {@code _build_image_projection_layers} raises {@code NotImplementedError} for any other (and fails on none).
     */
    private static void requireType(JsonNode vision, String embedding, String only) {
        JsonNode type = vision.path(embedding).path("type");
        if (!type.isTextual() || !type.asText().equals(only)) {
            throw new IllegalArgumentException("vision_config." + embedding + ".type must be '" + only + "', the only"
                    + " one Florence-2's code implements, got " + (type.isMissingNode() ? "none" : type));
        }
    }
}
