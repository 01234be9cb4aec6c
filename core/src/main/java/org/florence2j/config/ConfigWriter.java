package org.florence2j.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.florence2j.config.VisionConfig.Implementation;
import org.florence2j.tensor.DType;

/**
 * Writes a {@link Florence2Config} as a remote-code {@code config.json}, the format of the
 * {@code microsoft/Florence-2-*} repositories ({@code configuration_florence2.py}: {@code Florence2Config} with a
 * {@code davit} {@code vision_config} and a {@code florence2_language} {@code text_config}), so that a folder
 * converted from the transformers-native layout reads back through {@link ConfigReader} to an equal config but for
 * its {@link VisionConfig#implementation()}. A native config that the remote code would compute differently is
 * refused rather than written.
 *
 * <p>Only what the records hold is written, plus the fixed fields that identify the format (model types,
 * {@code architectures}, {@code auto_map}, the embedding types); fields the records do not keep (dropout rates,
 * {@code label2id}) are left to the remote code's defaults, which only training uses.
 */
public final class ConfigWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigWriter() {}

    /**
     * The remote-code {@code config.json} tree of {@code config}, declaring {@code dtype} as its {@code torch_dtype}.
     *
     * @throws IllegalArgumentException naming the field when {@code config} was read for the native model and sets
     *                                  something the remote code computes differently
     */
    public static ObjectNode toJson(Florence2Config config, DType dtype) {
        requireRemoteSemantics(config.vision());
        TextConfig text = config.text();
        ObjectNode root = JSON.createObjectNode();
        root.putArray("architectures").add("Florence2ForConditionalGeneration");
        // The class names the remote code registers; the .py files come from the microsoft/Florence-2-* repository.
        ObjectNode autoMap = root.putObject("auto_map");
        autoMap.put("AutoConfig", "configuration_florence2.Florence2Config");
        autoMap.put("AutoModelForCausalLM", "modeling_florence2.Florence2ForConditionalGeneration");
        root.put("model_type", "florence2");
        root.put("bos_token_id", text.bosTokenId());
        root.put("eos_token_id", text.eosTokenId());
        root.put("pad_token_id", text.padTokenId());
        root.put("projection_dim", config.projectionDim());
        root.put("vocab_size", text.vocabSize());
        root.put("is_encoder_decoder", true);
        root.put("torch_dtype", torchDtype(dtype));
        root.set("text_config", text(text));
        root.set("vision_config", vision(config.vision()));
        return root;
    }

    /** The {@code torch_dtype} string of {@code dtype}, as transformers writes it. */
    public static String torchDtype(DType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
            default -> throw new IllegalArgumentException("a model's torch_dtype is a float type, not " + dtype);
        };
    }

    private static ObjectNode text(TextConfig text) {
        ObjectNode node = JSON.createObjectNode();
        node.put("vocab_size", text.vocabSize());
        node.put("d_model", text.dModel());
        node.put("encoder_layers", text.encoderLayers());
        node.put("decoder_layers", text.decoderLayers());
        node.put("num_hidden_layers", text.encoderLayers());
        node.put("encoder_attention_heads", text.encoderAttentionHeads());
        node.put("decoder_attention_heads", text.decoderAttentionHeads());
        node.put("encoder_ffn_dim", text.encoderFfnDim());
        node.put("decoder_ffn_dim", text.decoderFfnDim());
        node.put("max_position_embeddings", text.maxPositionEmbeddings());
        node.put("activation_function", text.activationFunction());
        node.put("normalize_before", text.normalizeBefore());
        node.put("scale_embedding", text.scaleEmbedding());
        node.put("add_final_layer_norm", text.addFinalLayerNorm());
        node.put("is_encoder_decoder", true);
        // An absent token (a native folder's generation settings may have none) is written as null, not left out:
        // the remote config class keeps an explicit None, where a missing key would take its default (bos 0,
        // forced EOS 2) and generate differently.
        node.put("bos_token_id", text.bosTokenId());
        node.put("eos_token_id", text.eosTokenId());
        node.put("pad_token_id", text.padTokenId());
        node.put("decoder_start_token_id", text.decoderStartTokenId());
        node.put("forced_bos_token_id", text.forcedBosTokenId());
        node.put("forced_eos_token_id", text.forcedEosTokenId());
        node.put("num_beams", text.numBeams());
        node.put("no_repeat_ngram_size", text.noRepeatNgramSize());
        node.set("early_stopping", JSON.valueToTree(text.earlyStopping()));
        node.put("length_penalty", text.lengthPenalty());
        return node;
    }

    /** Refuses what a remote-code config cannot say: the remote model would read the same fields differently. */
    private static void requireRemoteSemantics(VisionConfig vision) {
        if (vision.implementation() != Implementation.NATIVE) {
            return;
        }
        if (vision.patchPrenorm().get(0)) {
            throw new IllegalArgumentException("vision_config.patch_prenorm[0] is true: the native model normalises"
                    + " the image before stage 0's convolution, which the remote code never does");
        }
        if (vision.mlpRatio() != VisionConfig.REMOTE_MLP_RATIO || !vision.qkvBias()) {
            throw new IllegalArgumentException("vision_config.mlp_ratio " + vision.mlpRatio() + " and qkv_bias "
                    + vision.qkvBias() + ": the remote code always uses " + VisionConfig.REMOTE_MLP_RATIO
                    + " and true");
        }
    }

    private static ObjectNode vision(VisionConfig vision) {
        ObjectNode node = JSON.createObjectNode();
        node.put("model_type", "davit");
        ints(node, "dim_embed", vision.dimEmbed());
        ints(node, "num_heads", vision.numHeads());
        ints(node, "num_groups", vision.numGroups());
        ints(node, "depths", vision.depths());
        ints(node, "patch_size", vision.patchSize());
        ints(node, "patch_stride", vision.patchStride());
        ints(node, "patch_padding", vision.patchPadding());
        ArrayNode prenorm = node.putArray("patch_prenorm");
        vision.patchPrenorm().forEach(prenorm::add);
        node.put("window_size", vision.windowSize());
        node.put("projection_dim", vision.projectionDim());
        // The only embedding types the remote code implements (Florence2VisionModelWithProjection's constructor).
        ObjectNode temporal = node.putObject("visual_temporal_embedding");
        temporal.put("type", "COSINE");
        temporal.put("max_temporal_embeddings", vision.maxTemporalEmbeddings());
        ObjectNode position = node.putObject("image_pos_embed");
        position.put("type", "learned_abs_2d");
        position.put("max_pos_embeddings", vision.maxPosEmbeddings());
        ArrayNode sources = node.putArray("image_feature_source");
        vision.imageFeatureSource().forEach(sources::add);
        return node;
    }

    private static void ints(ObjectNode node, String field, List<Integer> values) {
        ArrayNode array = node.putArray(field);
        values.forEach(array::add);
    }
}
