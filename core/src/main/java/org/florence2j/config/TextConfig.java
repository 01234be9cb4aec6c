package org.florence2j.config;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The BART language model's {@code text_config}, including the generation settings the reference's
 * {@code generate()} runs with: for a remote-code folder those of {@code text_config} (its
 * {@code generation_config.json} is not used); for a native one those {@link NativeConfigReader} puts there.
 *
 * @param bosTokenId null only for a native folder whose generation settings have none: native {@code generate()}
 *                   needs it only when there is no {@code decoder_start_token_id}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record TextConfig(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("d_model") int dModel,
        @JsonProperty("encoder_layers") int encoderLayers,
        @JsonProperty("decoder_layers") int decoderLayers,
        @JsonProperty("encoder_attention_heads") int encoderAttentionHeads,
        @JsonProperty("decoder_attention_heads") int decoderAttentionHeads,
        @JsonProperty("encoder_ffn_dim") int encoderFfnDim,
        @JsonProperty("decoder_ffn_dim") int decoderFfnDim,
        @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
        @JsonProperty("activation_function") String activationFunction,
        @JsonProperty("normalize_before") boolean normalizeBefore,
        @JsonProperty("scale_embedding") boolean scaleEmbedding,
        @JsonProperty("add_final_layer_norm") boolean addFinalLayerNorm,
        @JsonProperty("bos_token_id") Integer bosTokenId,
        @JsonProperty("eos_token_id") int eosTokenId,
        @JsonProperty("pad_token_id") int padTokenId,
        @JsonProperty("decoder_start_token_id") int decoderStartTokenId,
        @JsonProperty("forced_bos_token_id") Integer forcedBosTokenId,
        @JsonProperty("forced_eos_token_id") Integer forcedEosTokenId,
        @JsonProperty("num_beams") Integer numBeams,
        @JsonProperty("no_repeat_ngram_size") Integer noRepeatNgramSize,
        @JsonProperty("early_stopping") EarlyStopping earlyStopping,
        @JsonProperty("length_penalty") Double lengthPenalty,
        @JsonProperty("min_length") Integer minLength,
        @JsonProperty("min_new_tokens") Integer minNewTokens) {

    /**
     * The reference's {@code Florence2LearnedPositionalEmbedding.offset}: position p reads row p + 2 of a table of
     * {@code max_position_embeddings + 2} rows.
     */
    public static final int POSITION_OFFSET = 2;

    public TextConfig {
        requirePositive("vocab_size", vocabSize);
        requirePositive("d_model", dModel);
        requirePositive("encoder_layers", encoderLayers);
        requirePositive("decoder_layers", decoderLayers);
        requireHeads("encoder_attention_heads", encoderAttentionHeads, dModel);
        requireHeads("decoder_attention_heads", decoderAttentionHeads, dModel);
        requirePositive("encoder_ffn_dim", encoderFfnDim);
        requirePositive("decoder_ffn_dim", decoderFfnDim);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        if (maxPositionEmbeddings > Integer.MAX_VALUE - POSITION_OFFSET) {
            throw new IllegalArgumentException("text_config.max_position_embeddings " + maxPositionEmbeddings
                    + " is too large: its position table holds " + POSITION_OFFSET + " rows more, and a table"
                    + " holds at most " + Integer.MAX_VALUE + " rows");
        }
        // Ids outside the vocabulary would otherwise surface mid-generation as an index error.
        if (bosTokenId != null) {
            requireTokenId("bos_token_id", bosTokenId, vocabSize);
        }
        requireTokenId("eos_token_id", eosTokenId, vocabSize);
        requireTokenId("pad_token_id", padTokenId, vocabSize);
        requireTokenId("decoder_start_token_id", decoderStartTokenId, vocabSize);
        if (forcedBosTokenId != null) {
            requireTokenId("forced_bos_token_id", forcedBosTokenId, vocabSize);
        }
        if (forcedEosTokenId != null) {
            requireTokenId("forced_eos_token_id", forcedEosTokenId, vocabSize);
        }
        if (activationFunction == null) {
            activationFunction = "gelu";
        }
        if (!activationFunction.equals("gelu")) {
            throw new IllegalArgumentException("text_config.activation_function '" + activationFunction
                    + "' is not supported (Florence-2 uses exact 'gelu')");
        }
        if (numBeams == null) {
            numBeams = 1;
        }
        if (noRepeatNgramSize == null) {
            noRepeatNgramSize = 0;
        }
        if (earlyStopping == null) {
            earlyStopping = EarlyStopping.FALSE;
        }
        if (lengthPenalty == null) {
            lengthPenalty = 1.0;
        }
        if (minLength == null) {
            minLength = 0;
        }
        requireAtLeast("min_length", minLength, 0);
        if (minNewTokens != null) {
            requireAtLeast("min_new_tokens", minNewTokens, 0);
        }
        requireAtLeast("num_beams", numBeams, 1);
        requireAtLeast("no_repeat_ngram_size", noRepeatNgramSize, 0);
    }

    /**
     * The tokens generated before EOS may come: {@code min_new_tokens} when set (transformers 4.41's
     * {@code _prepare_generated_length} then replaces {@code min_length} with {@code min_new_tokens + 1}), else
     * {@code min_length - 1} ({@code min_length} counts the decoder start token).
     */
    public int minGeneratedTokens() {
        return minNewTokens != null ? minNewTokens : Math.max(minLength - 1, 0);
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("text_config." + name + " must be positive, got " + value);
        }
    }

    private static void requireAtLeast(String name, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException("text_config." + name + " must be at least " + min + ", got " + value);
        }
    }

    private static void requireHeads(String name, int heads, int dModel) {
        requirePositive(name, heads);
        if (dModel % heads != 0) {
            throw new IllegalArgumentException("text_config: d_model " + dModel + " is not divisible by " + name
                    + " " + heads);
        }
    }

    private static void requireTokenId(String name, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("text_config." + name + " " + id + " is outside the vocabulary [0, "
                    + vocabSize + ") of text_config.vocab_size");
        }
    }
}
