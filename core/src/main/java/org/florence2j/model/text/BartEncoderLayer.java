package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.tensor.Tensor;

/**
 * One post-LayerNorm BART encoder layer, mirroring the reference's {@code Florence2EncoderLayer}:
 * {@code x = LN(x + selfAttn(x))}, then {@code x = LN(x + fc2(gelu(fc1(x))))}. Dropout is inference-off.
 */
public final class BartEncoderLayer {
    private final BartAttention selfAttn;
    private final LayerNorm selfAttnLayerNorm;
    private final Linear fc1; // [ffn, channels]
    private final Linear fc2; // [channels, ffn]
    private final LayerNorm finalLayerNorm;

    private BartEncoderLayer(BartAttention selfAttn, LayerNorm selfAttnLayerNorm, Linear fc1, Linear fc2,
            LayerNorm finalLayerNorm) {
        this.selfAttn = selfAttn;
        this.selfAttnLayerNorm = selfAttnLayerNorm;
        this.fc1 = fc1;
        this.fc2 = fc2;
        this.finalLayerNorm = finalLayerNorm;
    }

    /** Loads {@code language_model.model.encoder.layers.<i>} given as {@code w}. */
    public static BartEncoderLayer load(Weights w, TextConfig c, Backend backend, Arena arena) {
        int channels = c.dModel();
        return new BartEncoderLayer(
                BartAttention.load(w.at("self_attn"), channels, c.encoderAttentionHeads(), backend, arena),
                LayerNorm.load(w, "self_attn_layer_norm", channels, backend, arena),
                Linear.load(w, "fc1", c.encoderFfnDim(), channels, backend, arena),
                Linear.load(w, "fc2", channels, c.encoderFfnDim(), backend, arena),
                LayerNorm.load(w, "final_layer_norm", channels, backend, arena));
    }

    /**
     * Runs the layer in place on {@code x [1, tokens, channels]}; every buffer of {@code s} has {@code x}'s
     * token count.
     */
    void forward(Backend backend, Tensor x, EncoderBuffers s) {
        int tokens = x.shape().dim(1);
        selfAttn.query(backend, s.q(), x);
        selfAttn.keyValue(backend, s.k(), s.v(), x);
        selfAttn.attend(backend, x, s.q(), s.k(), s.v(), tokens, AttentionMask.none(), s.heads());
        selfAttnLayerNorm.forward(backend, x, x);
        fc1.forwardGelu(backend, s.ffn(), x);
        fc2.forwardResidual(backend, x, s.ffn());
        finalLayerNorm.forward(backend, x, x);
    }

    /**
     * Per-request views for one encoder pass over {@code tokens} tokens.
     *
     * @param q         {@code [1, tokens, channels]}
     * @param k         {@code [1, tokens, channels]}
     * @param v         {@code [1, tokens, channels]}
     * @param heads     {@code [1, tokens, channels]}, attention output before {@code out_proj}
     * @param ffn       {@code [1, tokens, ffn]}
     */
    record EncoderBuffers(Tensor q, Tensor k, Tensor v, Tensor heads, Tensor ffn) {}
}
