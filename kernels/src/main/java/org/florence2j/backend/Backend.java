package org.florence2j.backend;

import java.lang.foreign.Arena;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The operations Florence-2 needs, on one device. Model code receives a {@code Backend} and never knows which one
 * runs it.
 *
 * <p>Conventions (every implementation follows them; {@code ReferenceBackend} is the oracle):
 * <ul>
 *   <li>Destination passing: outputs come first and are given; no op allocates. Each op checks shapes and dtypes
 *       at the top and throws {@link IllegalArgumentException} naming the op and the offending shapes.</li>
 *   <li>Tensors are contiguous and row-major. Activations are {@code [batch, tokens, channels]}; feature maps are
 *       token-major ({@code tokens = height × width}, row by row), i.e. NHWC.</li>
 *   <li>Activations are {@link DType#F32} unless an op says otherwise; weights may be F32, F16 or BF16 in the
 *       backend's own uploaded form (see {@link #upload}).</li>
 *   <li>Linear weights use PyTorch's {@code [outFeatures, inFeatures]} layout; conv weights use
 *       {@code [outChannels, inChannels / groups, kernel, kernel]}.</li>
 *   <li>An output may alias an input only where the op says so.</li>
 *   <li>Ops on a closed backend, or on tensors whose arena is closed, throw {@link IllegalStateException}.</li>
 * </ul>
 */
public interface Backend extends AutoCloseable {
    /** The device this backend computes on. */
    Device device();

    /** Allocates a zeroed tensor on this backend's device whose lifetime is {@code owner}'s. */
    Tensor allocate(DType dtype, Shape shape, Arena owner);

    /**
     * Makes a device copy of a host tensor (e.g. a memory-mapped weight), converted to {@code dtype}, owned by
     * {@code owner}. A host backend may return {@code host} itself when no conversion is needed.
     */
    Tensor upload(Tensor host, DType dtype, Arena owner);

    /**
     * {@link #upload} for a constant {@code [outFeatures, inFeatures]} weight of {@link #linear}: the backend may
     * also keep a copy in the layout its matmul reads fastest, which {@code linear} then uses whenever it is given
     * the returned tensor. The returned tensor stays valid for every op (e.g. a tied embedding table); its values
     * must not change afterwards. {@code dtype} is the type {@code linear}'s products should use: F32, or a 16-bit
     * type for half-precision products. A backend that keeps its own copy may return {@code host} in its own
     * dtype (the CPU packs a BF16 request's copy in bf16 and returns an F32 host as it is).
     */
    default Tensor uploadLinearWeight(Tensor host, DType dtype, Arena owner) {
        return upload(host, dtype, owner);
    }

    /**
     * {@link #upload} for a constant weight of {@link #conv2d} or {@link #depthwiseConv3x3Residual}: an F32 copy
     * by default; a backend that packs convolution weights into its own layout on first use may instead keep
     * {@code host} in its stored floating dtype (a 16-bit checkpoint's weights then cost no F32 copy beside the
     * packed one). Only convolutions may read the returned tensor; its values must not change afterwards.
     */
    default Tensor uploadConvWeight(Tensor host, Arena owner) {
        return upload(host, DType.F32, owner);
    }

    /** Copies a device tensor into a host tensor of the same shape, converting to the host tensor's dtype. */
    void download(Tensor src, Tensor hostDst);

    /** {@code out = src}, same shape and element count; converts dtype when they differ. */
    void copy(Tensor out, Tensor src);

    /**
     * Copies a host tensor into {@code out} on this device (same shape and dtype), ordered before every op issued
     * after it; on a GPU it is asynchronous, but {@code host} may be reused as soon as it returns. Host backends
     * {@link #copy}.
     */
    default void write(Tensor out, Tensor host) {
        copy(out, host);
    }

    /**
     * Linear layer: {@code out[r, o] = Σ_i x[r, i] · weight[o, i] + bias[o]}.
     *
     * @param out    {@code [..., outFeatures]}
     * @param x      {@code [..., inFeatures]}, same leading dimensions as {@code out}
     * @param weight {@code [outFeatures, inFeatures]}
     * @param bias   {@code [outFeatures]} or {@code null}
     */
    void linear(Tensor out, Tensor x, Tensor weight, Tensor bias);

    /**
     * {@link #linear} added to {@code out}: {@code out[r, o] += Σ_i x[r, i] · weight[o, i] + bias[o]}, the residual
     * add of a pre-norm block done by its last projection (no branch buffer, no pass of its own).
     *
     * @param out F32 {@code [..., outFeatures]}, read and written; must not overlap {@code x}
     * @param x   {@code [..., inFeatures]}, F32 or the {@link #matmulActivationType()}
     */
    void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias);

    /**
     * The dtype in which activations that only pass between matmul-based ops may also be kept, where that saves a
     * conversion the backend would make anyway: {@link #linear} and {@link #linearGelu} accept {@code x} and write
     * {@code out} in it, {@link #linearResidual} accepts {@code x} in it, {@link #selfAttention} and
     * {@link #channelAttention} accept {@code qkv} and write {@code out} in it (both in the same type),
     * {@link #layerNorm} writes {@code out} in it (from an F32 {@code x}), {@link #windowPartition} and
     * {@link #windowReverse} move it (both sides in the same type), and {@link #conv2d} accepts {@code x} in it.
     * {@link DType#BF16} for a CPU backend in bf16 mode, whose matmuls read bf16 anyway (an MLP's hidden layer, or
     * a projection's q/k/v, then travels in bf16: no rounding pass, half the memory traffic) and whose convolutions
     * run in bf16 on a bf16 {@code x}; {@link DType#F32} (the default) otherwise. F32 always works; every other op
     * reads and writes F32 activations.
     */
    default DType matmulActivationType() {
        return DType.F32;
    }

    /**
     * {@code out = gelu(linear(x, weight, bias))} with exact (erf) GELU: {@link #linear} then {@link #gelu}, which a
     * backend may fuse into one pass over {@code out}.
     */
    default void linearGelu(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        linear(out, x, weight, bias);
        gelu(out, out);
    }

    /**
     * Batched matrix product {@code out[b] = a[b] · b[b]} (or {@code b[0]} for every batch when {@code b} has
     * batch 1).
     *
     * @param out {@code [batch, m, n]}
     * @param a   {@code [batch, m, k]}
     * @param b   {@code [batch or 1, k, n]}
     */
    void matmul(Tensor out, Tensor a, Tensor b);

    /**
     * LayerNorm over the last dimension: {@code (x - mean) / sqrt(var + eps) · weight + bias}, biased variance,
     * computed in F32 and written in {@code out}'s dtype (F32 or the {@link #matmulActivationType()}). {@code out}
     * may alias {@code x} when both are F32.
     */
    void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps);

    /** Exact (erf) GELU, element-wise. {@code out} may alias {@code x}. */
    void gelu(Tensor out, Tensor x);

    /** Softmax over the last dimension. {@code out} may alias {@code x}. */
    void softmax(Tensor out, Tensor x);

    /**
     * {@code out = a + b}. {@code b}'s shape equals {@code a}'s or is a suffix of it (broadcast over the leading
     * dimensions, e.g. a {@code [tokens, channels]} position table added to {@code [batch, tokens, channels]}).
     * {@code out} may alias {@code a}.
     */
    void add(Tensor out, Tensor a, Tensor b);

    /**
     * Multi-head attention over packed projections, unmasked:
     * {@code out = softmax(q·kᵀ·scale)·v} per head.
     *
     * @param out   {@code [batch, tokens, channels]}
     * @param qkv   {@code [batch, tokens, 3·channels]}: q, k, v side by side along the last dimension, each
     *              {@code heads × headDim} with heads outermost (the reference's
     *              {@code reshape(B, N, 3, heads, headDim)})
     * @param heads number of heads; must divide {@code channels}
     * @param scale multiplies q·kᵀ (the reference scales q by {@code headDim^-0.5} before the product)
     */
    void selfAttention(Tensor out, Tensor qkv, int heads, float scale);

    /**
     * Multi-head attention with separate query and key/value tensors, for the BART decoder (self-attention over a
     * KV cache) and cross-attention (over the encoder's K/V, shared by every beam of an image).
     *
     * @param out      {@code [batch, queryTokens, channels]}
     * @param q        {@code [batch, queryTokens, channels]}, heads outermost in the channel dimension
     * @param k        {@code [kvBatch, capacity, channels]}; only the first {@code kvTokens} rows are read;
     *                 {@code batch} must be a multiple of {@code kvBatch}, and query row {@code b} uses key row
     *                 {@code b / (batch / kvBatch)} (beams of one image share its cross K/V)
     * @param v        same shape as {@code k}
     * @param kvTokens number of valid key/value rows, {@code 1 ≤ kvTokens ≤ capacity}
     * @param heads    number of heads
     * @param scale    multiplies q·kᵀ
     * @param mask     which keys each query may see
     */
    void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale, AttentionMask mask);

    /**
     * {@link #attention}, unmasked, over keys stored transposed as {@link #transposeKeys} writes them and values
     * stored head by head as {@link #headMajorValues} writes them: for cross-attention, whose keys and values are
     * computed once per image and read at every decode step. Each head's keys are then a {@code [headDim, kvTokens]}
     * block with rows {@code capacity} apart and its values a dense {@code [kvTokens, headDim]} block, which matmuls
     * read as they are (CpuBackend: the cross-attention of a 3-beam decode step in about half the time of
     * {@link #attention}, which must transpose each head's keys on every call; head-major values took another third
     * off, as oneDNN no longer copies each head's value columns out of the token rows).
     *
     * <p>{@code keysT} and {@code valuesHM} must have been written by {@link #transposeKeys} and
     * {@link #headMajorValues}: a backend may read copies it made of what those ops last wrote (CpuBackend's bf16
     * mode reads them packed in bf16).
     *
     * @param out      {@code [batch, queryTokens, channels]}
     * @param q        {@code [batch, queryTokens, channels]}, heads outermost in the channel dimension
     * @param keysT    {@code [kvBatch, channels, capacity]}: {@code keysT[b, c, t]} is key {@code t}'s channel
     *                 {@code c}; only the first {@code kvTokens} columns are read; query row {@code b} uses key row
     *                 {@code b / (batch / kvBatch)}
     * @param valuesHM {@code [kvBatch, heads, capacity, headDim]}: {@code valuesHM[b, h, t, d]} is value {@code t}'s
     *                 channel {@code h·headDim + d}; only the first {@code kvTokens} rows of each head are read
     * @param kvTokens number of valid keys, {@code 1 ≤ kvTokens ≤ capacity}
     * @param heads    number of heads
     * @param scale    multiplies q·kᵀ
     */
    void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor valuesHM, int kvTokens, int heads,
            float scale);

    /**
     * Writes keys transposed for {@link #attentionTransposedKeys}: {@code keysT[b, c, t] = keys[b, t, c]} for every
     * {@code t < tokens}; columns from {@code tokens} on are left as they are.
     *
     * @param keysT {@code [batch, channels, capacity]}, {@code capacity ≥ tokens}; must not alias {@code keys}
     * @param keys  {@code [batch, tokens, channels]}
     */
    void transposeKeys(Tensor keysT, Tensor keys);

    /**
     * Writes values head by head for {@link #attentionTransposedKeys}: {@code valuesHM[b, h, t, d] = values[b, t,
     * h·headDim + d]} for every {@code t < tokens}; rows from {@code tokens} on are left as they are.
     *
     * @param valuesHM {@code [batch, heads, capacity, headDim]}, {@code capacity ≥ tokens}; must not alias
     *                 {@code values}
     * @param values   {@code [batch, tokens, heads·headDim]}
     */
    void headMajorValues(Tensor valuesHM, Tensor values);

    /**
     * A decode step's causal self-attention over a KV cache: {@link #attention} with
     * {@code kvTokens = step.position() + queryTokens} and {@code AttentionMask.causal(step.position())}. A backend
     * replaying captured steps ({@link #newStepGraph}) reads the position from {@link StepParameters#devicePosition()}
     * when the op runs and may compute over every {@code capacity} row of {@code k} and {@code v}, the rows past
     * the position weighing nothing; {@code k} and {@code v} must hold finite values there (a zeroed or earlier
     * filled cache does).
     *
     * @param k {@code [kvBatch, capacity, channels]}, the first {@code step.position() + queryTokens} rows valid
     */
    default void attention(Tensor out, Tensor q, Tensor k, Tensor v, StepParameters step, int heads, float scale) {
        attention(out, q, k, v, step.position() + q.shape().dim(1), heads, scale, step.causalMask());
    }

    /**
     * DaViT channel attention (the reference's {@code ChannelAttention}): per batch and group,
     * {@code attn = softmax((q·scale)ᵀ·k)} over channels of the group, {@code out = (attn·vᵀ)ᵀ}.
     *
     * @param out    {@code [batch, tokens, channels]}
     * @param qkv    {@code [batch, tokens, 3·channels]}, packed as {@code reshape(B, N, 3, groups, channels/groups)}
     * @param groups channel groups; must divide {@code channels}
     * @param scale  multiplies q; the reference uses {@code tokens^-0.5} (tokens, not the head dimension)
     */
    void channelAttention(Tensor out, Tensor qkv, int groups, float scale);

    /**
     * Zero-pads a feature map to a multiple of the window and cuts it into windows (the reference's
     * {@code F.pad} then {@code window_partition}).
     *
     * @param out    {@code [batch · windowsDown · windowsAcross, window · window, channels]}, windows ordered row by
     *               row, tokens within a window row by row
     * @param x      {@code [batch, height · width, channels]}
     * @param height feature-map height
     * @param width  feature-map width
     * @param window window side
     */
    void windowPartition(Tensor out, Tensor x, int height, int width, int window);

    /**
     * Inverse of {@link #windowPartition}: reassembles windows and crops the padding ({@code window_reverse} then
     * {@code x[:, :H, :W, :]}).
     */
    void windowReverse(Tensor out, Tensor windows, int height, int width, int window);

    /**
     * 2-D convolution on a token-major feature map with zero padding.
     *
     * @param out     {@code [batch, outHeight · outWidth, outChannels]}, {@code outHeight = (height + 2·padding -
     *                kernel) / stride + 1}
     * @param x       {@code [batch, height · width, inChannels]}, F32 or the {@link #matmulActivationType()}
     * @param weight  {@code [outChannels, inChannels, kernel, kernel]}
     * @param bias    {@code [outChannels]} or {@code null}
     */
    void conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias, int stride, int padding);

    /**
     * Depthwise 3×3 convolution (stride 1, padding 1, one filter per channel) with its input added back:
     * {@code out = x + dwconv(x)} (the reference's residual {@code PreNorm(None, DepthWiseConv2d)}).
     *
     * @param out    {@code [batch, height · width, channels]}; must not alias {@code x}
     * @param x      {@code [batch, height · width, channels]}
     * @param weight {@code [channels, 1, 3, 3]}
     * @param bias   {@code [channels]}
     */
    void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias);

    /**
     * Channel-first to token-major: {@code [batch, channels, height, width]} to {@code [batch, height·width,
     * channels]} (pixel values into the first patch embedding).
     */
    void channelsLast(Tensor out, Tensor x);

    /** Mean over tokens: {@code out[b, 0, c] = mean_t x[b, t, c]}; {@code out} is {@code [batch, 1, channels]}. */
    void meanTokens(Tensor out, Tensor x);

    /**
     * Embedding lookup: {@code out[b, t] = table[ids[b, t]]}.
     *
     * @param out   {@code [batch, tokens, channels]}
     * @param table {@code [vocabulary, channels]}
     * @param ids   {@link DType#I32} {@code [batch, tokens]}, host or device; an id outside the vocabulary is an
     *              {@link IllegalArgumentException}, except inside a step a {@link StepGraph} may capture, where
     *              device ids are not read back to be checked ({@link StepParameters} checks them when set)
     */
    void embedding(Tensor out, Tensor table, Tensor ids);

    /**
     * Concatenation along tokens: {@code [batch, tokensA, channels] ++ [batch, tokensB, channels]}.
     */
    void concatTokens(Tensor out, Tensor a, Tensor b);

    /**
     * Copies {@code src} {@code [batch, tokens, channels]} into rows {@code [position, position + tokens)} of
     * {@code cache} {@code [batch, capacity, channels]} (appending to a KV cache).
     */
    void writeRows(Tensor cache, Tensor src, int position);

    /**
     * {@link #writeRows} at {@code step.position()}: a decode step appending its K/V to the cache. A backend
     * replaying captured steps reads the position from {@link StepParameters#devicePosition()} when the copy runs.
     */
    default void writeRows(Tensor cache, Tensor src, StepParameters step) {
        writeRows(cache, src, step.position());
    }

    /**
     * Beam reordering: {@code out[b] = src[sourceRows[b]]} along the outermost dimension, first
     * {@code rowsPrefix} rows of the second dimension only (the filled part of a cache). {@code out} must not alias
     * {@code src}.
     *
     * @param sourceRows one source index per row of {@code out}
     */
    default void gatherRows(Tensor out, Tensor src, int[] sourceRows, int rowsPrefix) {
        gatherRows(out, src, sourceRows, null, rowsPrefix);
    }

    /**
     * {@link #gatherRows(Tensor, Tensor, int[], int)} where the caller knows that {@code out[b]} already holds
     * {@code src[sourceRows[b]]}'s values before second-dimension row {@code firstRows[b]}: only rows
     * {@code firstRows[b] … rowsPrefix - 1} need copying. A backend may copy the others too (they hold the same
     * values), as a replayed step that cannot see the host's {@code firstRows} does.
     *
     * @param firstRows {@code null} (copy from row 0), or one first row per row of {@code out}, each in
     *                  {@code [0, rowsPrefix]}
     */
    void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix);

    /**
     * {@link #gatherRows} with {@code step.parents()} as the source rows, {@code step.firstRows()} as the first rows
     * to copy and {@code step.position()} as the prefix: a decode step's beam reorder of the cache filled so far. A
     * backend replaying captured steps reads the parents and the position from {@link StepParameters#parentRows()}
     * and {@link StepParameters#devicePosition()} when the copy runs, and copies every row from 0.
     */
    default void gatherRows(Tensor out, Tensor src, StepParameters step) {
        gatherRows(out, src, step.parents(), step.firstRows(), step.position());
    }

    /**
     * A {@link StepGraph} for one session's decode steps or vision passes, closed by the caller before this backend.
     * The default runs the ops as they are issued; a GPU backend may capture a step once and replay it per token,
     * and a pass once per image size.
     */
    default StepGraph newStepGraph() {
        return StepGraph.eager();
    }

    /**
     * Next-token selection for generation: per row of logits, log-softmax, the search's logits processors, a score
     * offset and the {@code k} best tokens, so that a search reads {@code k} candidates per row instead of the whole
     * vocabulary. For row {@code r}, whose largest logit is {@code max}:
     * <ol>
     *   <li>{@code logProb[v] = (logits[r, v] - max) - log Σ_u exp(logits[r, u] - max)} as an F32 value, each
     *       backend rounding its own way (torch's {@code log_softmax}; HuggingFace's beam search normalises before
     *       the processors);</li>
     *   <li>the processors, in HuggingFace's order: every id listed in row {@code r} of {@code bannedTokens} gets
     *       {@code -inf} ({@code NoRepeatNGramLogitsProcessor}); then, when {@code forcedToken >= 0}, every token
     *       gets {@code -inf} and {@code forcedToken} gets 0, ban or not ({@code ForcedBOSTokenLogitsProcessor},
     *       {@code ForcedEOSTokenLogitsProcessor});</li>
     *   <li>{@code score[v] = logProb[v] + scoreOffsets[r]}, one F32 addition (beam search's running beam
     *       score);</li>
     *   <li>the {@code k} best tokens by score, best first, equal scores in increasing token order (the order a
     *       scan over the vocabulary keeps, which the beam-search goldens encode). A token scoring {@code -inf} is
     *       never chosen: a row with fewer than {@code k} finite scores fills the rest with score and log-prob
     *       {@code -inf} and token {@code -1}.</li>
     * </ol>
     * Beam search merges the rows' candidates into its best {@code 2·beams} over {@code beams × vocabulary}, which
     * are all among the rows' best {@code 2·beams}; greedy search takes {@code k = 1}. Logits must be finite or
     * {@code -inf}, with at least one finite value per row.
     *
     * @param scores       F32 {@code [rows, k]}, {@code 1 ≤ k ≤ vocabulary}: the chosen tokens' scores, descending
     * @param tokens       I32 {@code [rows, k]}: the chosen token ids
     * @param logProbs     F32 {@code [rows, k]}: the chosen tokens' processed log-probabilities ({@code score}
     *                     without the offset)
     * @param logSumExp    F32 {@code [rows]}: {@code log Σ_v exp(processed logProb[v])}, the log of the
     *                     probability the processors left (0 without bans or with a forced token, {@code -inf} when
     *                     every token is banned); greedy search's normalised transition score is
     *                     {@code logProbs[r, 0] - logSumExp[r]}, the log-softmax of the processed logits
     * @param logits       F32 {@code [rows, vocabulary]}
     * @param bannedTokens I32 {@code [rows, width]}, host or device, or {@code null} for no bans: row {@code r}
     *                     lists its banned ids first (repeats allowed), then {@code -1} unless the list fills the
     *                     row; the first negative entry ends the list. A listed id outside the vocabulary is an
     *                     {@link IllegalArgumentException}.
     * @param forcedToken  the only token allowed in every row, or {@code -1} for none
     * @param scoreOffsets F32 {@code [rows]}, host or device, added to each row's log-probs; {@code null} for 0
     */
    void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets);

    /** Waits until every op issued so far has finished (a no-op on synchronous backends). */
    void synchronize();

    /** Releases everything the backend holds (primitive caches, handles). Idempotent. */
    @Override
    void close();
}
