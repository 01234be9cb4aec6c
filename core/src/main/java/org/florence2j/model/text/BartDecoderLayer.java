package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * One post-LayerNorm BART decoder layer, mirroring the reference's {@code Florence2DecoderLayer}:
 * {@code x = LN(x + selfAttn(x))} (causal, over the KV cache), {@code x = LN(x + encoderAttn(x, encoder))},
 * {@code x = LN(x + fc2(gelu(fc1(x))))}.
 */
public final class BartDecoderLayer {
    private final BartAttention selfAttn;
    private final LayerNorm selfAttnLayerNorm;
    private final BartAttention encoderAttn;
    private final LayerNorm encoderAttnLayerNorm;
    private final Linear fc1; // [ffn, channels]
    private final Linear fc2; // [channels, ffn]
    private final LayerNorm finalLayerNorm;

    private BartDecoderLayer(BartAttention selfAttn, LayerNorm selfAttnLayerNorm, BartAttention encoderAttn,
            LayerNorm encoderAttnLayerNorm, Linear fc1, Linear fc2, LayerNorm finalLayerNorm) {
        this.selfAttn = selfAttn;
        this.selfAttnLayerNorm = selfAttnLayerNorm;
        this.encoderAttn = encoderAttn;
        this.encoderAttnLayerNorm = encoderAttnLayerNorm;
        this.fc1 = fc1;
        this.fc2 = fc2;
        this.finalLayerNorm = finalLayerNorm;
    }

    /**
     * Loads {@code language_model.model.decoder.layers.<i>} given as {@code w}, the weights a step reads uploaded
     * for {@code stepWeightType} (see {@link BartDecoder#load(Weights, TextConfig, Backend, Arena, DType)}); the
     * cross-attention's key and value projections, run once per image, stay F32.
     */
    public static BartDecoderLayer load(Weights w, TextConfig c, Backend backend, Arena arena, DType stepWeightType) {
        int channels = c.dModel();
        int heads = c.decoderAttentionHeads();
        return new BartDecoderLayer(
                BartAttention.load(w.at("self_attn"), channels, heads, backend, arena, stepWeightType,
                        stepWeightType),
                LayerNorm.load(w, "self_attn_layer_norm", channels, backend, arena),
                BartAttention.load(w.at("encoder_attn"), channels, heads, backend, arena, stepWeightType, DType.F32),
                LayerNorm.load(w, "encoder_attn_layer_norm", channels, backend, arena),
                Linear.load(w, "fc1", c.decoderFfnDim(), channels, backend, arena, stepWeightType),
                Linear.load(w, "fc2", channels, c.decoderFfnDim(), backend, arena, stepWeightType),
                LayerNorm.load(w, "final_layer_norm", channels, backend, arena));
    }

    /**
     * Computes this layer's cross-attention K/V of one image's encoder output {@code [1, tokens, channels]} into
     * {@code keysT} (transposed) and {@code valuesHM} (head-major), each by way of {@code staging} {@code [1, tokens,
     * channels]}.
     */
    void crossKeyValue(Backend backend, Tensor encoderStates, Tensor staging, Tensor keysT, Tensor valuesHM) {
        encoderAttn.key(backend, staging, encoderStates);
        backend.transposeKeys(keysT, staging);
        encoderAttn.value(backend, staging, encoderStates);
        backend.headMajorValues(valuesHM, staging);
    }

    /**
     * Runs the layer in place on {@code x [rows, tokens, channels]} whose first token sits at the position in
     * {@code s.parameters()}; appends this step's K/V to the cache.
     */
    void forward(Backend backend, Tensor x, int layer, KvCache cache, BartDecoder.StepBuffers s) {
        selfAttn.query(backend, s.q(), x);
        selfAttn.keyValue(backend, s.k(), s.v(), x);
        backend.writeRows(cache.selfKey(layer), s.k(), s.parameters());
        backend.writeRows(cache.selfValue(layer), s.v(), s.parameters());
        selfAttn.attendCached(backend, x, s.q(), cache.selfKey(layer), cache.selfValue(layer), s.parameters(),
                s.heads());
        selfAttnLayerNorm.forward(backend, x, x);

        encoderAttn.query(backend, s.q(), x);
        for (int g = 0; g < cache.groups(); g++) {
            backend.attentionTransposedKeys(s.headsGroups()[g], s.qGroups()[g], cache.crossKeysT(layer, g),
                    cache.crossValue(layer, g), cache.groupTokens(g), encoderAttn.heads(), encoderAttn.scale());
        }
        encoderAttn.addProjection(backend, x, s.heads());
        encoderAttnLayerNorm.forward(backend, x, x);

        fc1.forwardGelu(backend, s.ffn(), x);
        fc2.forwardResidual(backend, x, s.ffn());
        finalLayerNorm.forward(backend, x, x);
    }
}
