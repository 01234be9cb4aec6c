package org.florence2j.model.text;

import java.lang.foreign.Arena;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepParameters;
import org.florence2j.checkpoint.Weights;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * BART multi-head attention, mirroring the reference's {@code Florence2Attention} (eager path): separate q, k, v
 * projections with bias, {@code softmax(q·kᵀ·headDim^-0.5)·v} per head, then {@code out_proj}, whose output the
 * caller's layer adds to its residual stream: {@code out_proj} adds into that stream directly
 * ({@link Backend#linearResidual}).
 *
 * <p>The reference multiplies the projected q by {@code headDim^-0.5} before the product; here the same factor is
 * the {@code scale} argument of {@link Backend#attention}, which is the same math up to float rounding.
 */
public final class BartAttention {
    private final Linear qProj; // [channels, channels]
    private final Linear kProj; // [channels, channels]
    private final Linear vProj; // [channels, channels]
    private final Linear outProj; // [channels, channels]
    private final int heads;
    private final float scale;

    private BartAttention(Linear qProj, Linear kProj, Linear vProj, Linear outProj, int heads, float scale) {
        this.qProj = qProj;
        this.kProj = kProj;
        this.vProj = vProj;
        this.outProj = outProj;
        this.heads = heads;
        this.scale = scale;
    }

    /** Loads {@code q_proj}, {@code k_proj}, {@code v_proj}, {@code out_proj} under {@code w}. */
    public static BartAttention load(Weights w, int channels, int heads, Backend backend, Arena arena) {
        return load(w, channels, heads, backend, arena, DType.F32, DType.F32);
    }

    /**
     * {@link #load} with {@code q_proj} and {@code out_proj} uploaded for {@code queryOutType}, {@code k_proj} and
     * {@code v_proj} for {@code keyValueType} (see {@link Linear#load(Weights, String, int, int, Backend, Arena,
     * DType)}): a decoder's cross-attention projects its keys and values once per image, over hundreds of rows.
     */
    public static BartAttention load(Weights w, int channels, int heads, Backend backend, Arena arena,
            DType queryOutType, DType keyValueType) {
        int headDim = channels / heads;
        return new BartAttention(
                Linear.load(w, "q_proj", channels, channels, backend, arena, queryOutType),
                Linear.load(w, "k_proj", channels, channels, backend, arena, keyValueType),
                Linear.load(w, "v_proj", channels, channels, backend, arena, keyValueType),
                Linear.load(w, "out_proj", channels, channels, backend, arena, queryOutType),
                heads, (float) Math.pow(headDim, -0.5));
    }

    /** {@code q [batch, tokens, channels] = q_proj(x)}. */
    void query(Backend backend, Tensor q, Tensor x) {
        qProj.forward(backend, q, x);
    }

    /** {@code k = k_proj(x)}, {@code v = v_proj(x)}, each {@code [batch, tokens, channels]}. */
    void keyValue(Backend backend, Tensor k, Tensor v, Tensor x) {
        key(backend, k, x);
        value(backend, v, x);
    }

    /** {@code k [batch, tokens, channels] = k_proj(x)}. */
    void key(Backend backend, Tensor k, Tensor x) {
        kProj.forward(backend, k, x);
    }

    /** {@code v [batch, tokens, channels] = v_proj(x)}. */
    void value(Backend backend, Tensor v, Tensor x) {
        vProj.forward(backend, v, x);
    }

    /**
     * {@code residual += out_proj(attention(q, k, v))}.
     *
     * @param residual {@code [batch, queryTokens, channels]}
     * @param q        {@code [batch, queryTokens, channels]}
     * @param k        {@code [kvBatch, capacity, channels]}, first {@code kvTokens} rows valid
     * @param v        same shape as {@code k}
     * @param scratch  {@code [batch, queryTokens, channels]}, holds the heads' output before {@code out_proj}
     */
    void attend(Backend backend, Tensor residual, Tensor q, Tensor k, Tensor v, int kvTokens, AttentionMask mask,
            Tensor scratch) {
        backend.attention(scratch, q, k, v, kvTokens, heads, scale, mask);
        outProj.forwardResidual(backend, residual, scratch);
    }

    /**
     * {@link #attend} for a decode step: causal over a KV cache {@code k}, {@code v} {@code [batch, capacity,
     * channels]} whose first {@code step.position() + queryTokens} rows are valid (see
     * {@link Backend#attention(Tensor, Tensor, Tensor, Tensor, StepParameters, int, float)}).
     */
    void attendCached(Backend backend, Tensor residual, Tensor q, Tensor k, Tensor v, StepParameters step,
            Tensor scratch) {
        backend.attention(scratch, q, k, v, step, heads, scale);
        outProj.forwardResidual(backend, residual, scratch);
    }

    /** {@code residual += out_proj(heads)} for heads computed elsewhere (per-image cross-attention groups). */
    void addProjection(Backend backend, Tensor residual, Tensor headsOutput) {
        outProj.forwardResidual(backend, residual, headsOutput);
    }

    int heads() {
        return heads;
    }

    float scale() {
        return scale;
    }
}
