package org.florence2j.backend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The argument checks of every {@link Backend} op, written once from its Javadoc (the contract), so that every
 * backend accepts and rejects the same calls with the same messages. A backend holds one {@code OpChecks} for its
 * device and calls the op's check at the top of the op, before it reads memory or calls native code.
 *
 * <p>The rules, beyond each op's shapes:
 * <ul>
 *   <li>Outputs and activation inputs are {@link DType#F32} on the backend's device, except those of linear layers
 *       and packed-qkv attention, layer norm's output, both sides of the window layouts and a convolution's input,
 *       which may also be in the backend's {@code matmulActivationTypes}. Weight operands (linear weight and bias,
 *       layer-norm and conv parameters, the embedding table, {@code matmul}'s {@code b} and {@code add}'s {@code b},
 *       which may be a position table) are on the device in one of the backend's {@code weightTypes}. Embedding ids
 *       are {@link DType#I32} on the host or on the device.</li>
 *   <li>{@code upload}, {@code download} and {@code copy} keep the dtype or convert from a floating type to
 *       {@link DType#F32}, {@link DType#F16} or {@link DType#BF16}.</li>
 *   <li>An output may overlap an input only where the contract allows it ({@code layerNorm}, {@code gelu} and
 *       {@code softmax} in place, {@code add} into {@code a}); memory on different devices never overlaps.</li>
 *   <li>Every tensor named in a check has its memory touched first, so a tensor whose arena closed fails as
 *       {@link IllegalStateException} before anything else (device memory has no other liveness check).</li>
 * </ul>
 *
 * <p>A failed check is an {@link IllegalArgumentException} naming the op and every argument, e.g.
 * {@code "linear: invalid arguments out F32[2, 2] on cpu, x F32[2, 3] on cpu, weight F32[2, 4] on cpu, bias null"}.
 */
public final class OpChecks {
    /** The dtypes {@code upload}, {@code download} and {@code copy} convert floating tensors into. */
    private static final Set<DType> CONVERSION_TARGETS = EnumSet.of(DType.F32, DType.F16, DType.BF16);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Device device;
    private final Set<DType> weightTypes;
    private final Set<DType> matmulActivationTypes;

    /**
     * @param device      the backend's device: where outputs, activations and weights must live
     * @param weightTypes the dtypes the backend's kernels read weight operands in
     */
    public OpChecks(Device device, Set<DType> weightTypes) {
        this(device, weightTypes, EnumSet.of(DType.F32));
    }

    /**
     * @param matmulActivationTypes the dtypes linear layers and packed-qkv attention take their activations in,
     *                              layer norm writes and window layouts move ({@link Backend#matmulActivationType});
     *                              F32 at least
     */
    public OpChecks(Device device, Set<DType> weightTypes, Set<DType> matmulActivationTypes) {
        this.device = device;
        this.weightTypes = Set.copyOf(weightTypes);
        this.matmulActivationTypes = Set.copyOf(matmulActivationTypes);
    }

    /** Sizes of a {@link Backend#conv2d} call, derived from its arguments by {@link #conv2d}. */
    public record Conv2dSize(int kernel, int outHeight, int outWidth) {
    }

    /** {@link Backend#upload}: a host tensor, kept in its dtype or converted. */
    public void upload(Tensor host, DType dtype) {
        require(host.device().isHost() && isConvertible(host.dtype(), dtype), "upload", "host", host, "to " + dtype);
    }

    /** {@link Backend#download}: a device tensor into a host tensor of the same shape. */
    public void download(Tensor src, Tensor hostDst) {
        require(onDevice(src) && hostDst.device().isHost() && src.shape().equals(hostDst.shape())
                && isConvertible(src.dtype(), hostDst.dtype()),
                "download", "src", src, "hostDst", hostDst);
    }

    /** {@link Backend#copy}: same shape, both on the device. */
    public void copy(Tensor out, Tensor src) {
        require(onDevice(out) && onDevice(src) && src.shape().equals(out.shape())
                && isConvertible(src.dtype(), out.dtype()),
                "copy", "out", out, "src", src);
    }

    /**
     * {@link Backend#write}: a host tensor into a device tensor of the same shape and dtype. Allocates nothing
     * unless it fails: a decode step runs it per token.
     */
    public void write(Tensor out, Tensor host) {
        boolean valid = onDevice(out) && host.device().isHost() && host.dtype() == out.dtype()
                && host.shape().equals(out.shape());
        touch(out, host, null, null);
        if (!valid) {
            require(false, "write", "out", out, "host", host);
        }
    }

    /**
     * {@link Backend#linear}: {@code out [..., outFeatures]}, {@code x [..., inFeatures]}, no aliasing. Allocates
     * nothing unless it fails (no shapes, no argument array): a decoder step runs it per layer and token.
     */
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        linear("linear", out, x, weight, bias);
    }

    /** {@link Backend#linearResidual}: {@link #linear}'s rules, with an F32 {@code out} (the residual stream). */
    public void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        linear("linearResidual", out, x, weight, bias);
        if (!isF32(out)) { // checked apart: a decode step's call must not build the message's argument array
            require(false, "linearResidual", "out", out, "x", x, "weight", weight, "bias", bias);
        }
    }

    private void linear(String op, Tensor out, Tensor x, Tensor weight, Tensor bias) {
        int inFeatures = x.shape().last();
        int outFeatures = out.shape().last();
        Shape w = weight.shape();
        boolean valid = isMatmulActivation(out) && isMatmulActivation(x) && isWeight(weight)
                && (bias == null || isWeight(bias)) && sameLeadingDims(out.shape(), x.shape())
                && w.rank() == 2 && w.dim(0) == outFeatures && w.dim(1) == inFeatures
                && (bias == null || isVector(bias.shape(), outFeatures));
        touch(out, x, weight, bias);
        if (!valid) {
            require(false, op, "out", out, "x", x, "weight", weight, "bias", bias);
        }
        requireNoOverlap(op, out, x, weight, bias);
    }

    /** {@link Backend#matmul}: {@code [batch, m, k] · [batch or 1, k, n] → [batch, m, n]}, no aliasing. */
    public void matmul(Tensor out, Tensor a, Tensor b) {
        Shape so = out.shape();
        Shape sa = a.shape();
        Shape sb = b.shape();
        require(isF32(out) && isF32(a) && isWeight(b) && so.rank() == 3 && sa.rank() == 3 && sb.rank() == 3
                && sa.dim(0) == so.dim(0) && (sb.dim(0) == 1 || sb.dim(0) == sa.dim(0))
                && sa.dim(1) == so.dim(1) && sa.dim(2) == sb.dim(1) && sb.dim(2) == so.dim(2),
                "matmul", "out", out, "a", a, "b", b);
        requireNoOverlap("matmul", out, a, b);
    }

    /**
     * {@link Backend#layerNorm}: parameters {@code [channels]}; {@code out} may alias {@code x}. Allocates nothing
     * unless it fails: a decoder step runs it per layer and token.
     */
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        int channels = x.shape().last();
        boolean valid = isMatmulActivation(out) && isF32(x) && isWeight(weight) && isWeight(bias)
                && out.shape().equals(x.shape()) && isVector(weight.shape(), channels)
                && isVector(bias.shape(), channels);
        touch(out, x, weight, bias);
        if (!valid) {
            require(false, "layerNorm", "out", out, "x", x, "weight", weight, "bias", bias);
        }
        requireNoOverlap("layerNorm", out, weight, bias);
        if (out.dtype() != x.dtype()) {
            requireNoOverlap("layerNorm", out, x); // in place only in one dtype
        }
    }

    /** {@link Backend#gelu}: same shape; {@code out} may alias {@code x}. */
    public void gelu(Tensor out, Tensor x) {
        elementwise("gelu", out, x);
    }

    /** {@link Backend#softmax}: same shape; {@code out} may alias {@code x}. */
    public void softmax(Tensor out, Tensor x) {
        elementwise("softmax", out, x);
    }

    /**
     * {@link Backend#add}: {@code b}'s shape a suffix of {@code a}'s; {@code out} may alias {@code a}. Allocates
     * nothing unless it fails: a decoder step runs it per layer and token.
     */
    public void add(Tensor out, Tensor a, Tensor b) {
        boolean valid = isF32(out) && isF32(a) && isWeight(b) && out.shape().equals(a.shape())
                && isSuffix(b.shape(), a.shape());
        touch(out, a, b, null);
        if (!valid) {
            require(false, "add", "out", out, "a", a, "b", b);
        }
        requireNoOverlap("add", out, b);
    }

    /** {@link Backend#selfAttention}: {@code qkv [batch, tokens, 3·channels]}, heads divide channels. */
    public void selfAttention(Tensor out, Tensor qkv, int heads) {
        packedQkv("selfAttention", out, qkv, heads, "heads");
    }

    /**
     * {@link Backend#attention}, with the causal rule read strictly: {@code pastTokens + queryTokens <= kvTokens},
     * since a query whose own position is not yet in the cache is a caller bug. Allocates nothing unless it fails:
     * a decoder step runs it per layer and token.
     */
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, AttentionMask mask) {
        Shape shape = out.shape();
        boolean valid = isF32(out) && isF32(q) && isF32(k) && isF32(v) && mask != null && shape.rank() == 3
                && q.shape().equals(shape) && k.shape().rank() == 3 && k.shape().equals(v.shape())
                && k.shape().last() == shape.last() && shape.dim(0) % k.shape().dim(0) == 0
                && kvTokens >= 1 && kvTokens <= k.shape().dim(1) && heads > 0 && shape.last() % heads == 0
                && (!mask.causal() || mask.pastTokens() + shape.dim(1) <= kvTokens);
        touch(out, q, k, v);
        if (!valid) {
            require(false, "attention", "out", out, "q", q, "k", k, "v", v,
                    "kvTokens " + kvTokens + ", heads " + heads + ", " + mask);
        }
        requireNoOverlap("attention", out, q, k, v);
    }

    /**
     * {@link Backend#attentionTransposedKeys}: {@code keysT [kvBatch, channels, capacity]}, {@code v [kvBatch,
     * heads, capacity, channels / heads]}. Allocates nothing unless it fails: every decode step runs it per layer.
     */
    public void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor v, int kvTokens, int heads) {
        Shape shape = out.shape();
        Shape k = keysT.shape();
        Shape vs = v.shape();
        boolean valid = isF32(out) && isF32(q) && isF32(keysT) && isF32(v) && shape.rank() == 3
                && q.shape().equals(shape) && k.rank() == 3 && vs.rank() == 4 && k.dim(0) == vs.dim(0)
                && k.dim(1) == shape.last() && heads > 0 && shape.last() % heads == 0 && vs.dim(1) == heads
                && vs.dim(2) == k.dim(2) && vs.last() == shape.last() / heads
                && shape.dim(0) % k.dim(0) == 0 && kvTokens >= 1 && kvTokens <= k.dim(2);
        touch(out, q, keysT, v);
        if (!valid) {
            require(false, "attentionTransposedKeys", "out", out, "q", q, "keysT", keysT, "v", v,
                    "kvTokens " + kvTokens + ", heads " + heads);
        }
        requireNoOverlap("attentionTransposedKeys", out, q, keysT, v);
    }

    /**
     * {@link Backend#transposeKeys}: {@code keys [batch, tokens, channels]} into {@code [batch, channels, ≥ tokens]}.
     */
    public void transposeKeys(Tensor keysT, Tensor keys) {
        Shape t = keysT.shape();
        Shape k = keys.shape();
        boolean valid = isF32(keysT) && isF32(keys) && t.rank() == 3 && k.rank() == 3 && t.dim(0) == k.dim(0)
                && t.dim(1) == k.last() && t.dim(2) >= k.dim(1);
        touch(keysT, keys, null, null);
        if (!valid) {
            require(false, "transposeKeys", "keysT", keysT, "keys", keys);
        }
        requireNoOverlap("transposeKeys", keysT, keys);
    }

    /**
     * {@link Backend#headMajorValues}: {@code values [batch, tokens, heads · headDim]} into {@code [batch, heads,
     * ≥ tokens, headDim]}.
     */
    public void headMajorValues(Tensor valuesHM, Tensor values) {
        Shape h = valuesHM.shape();
        Shape v = values.shape();
        boolean valid = isF32(valuesHM) && isF32(values) && h.rank() == 4 && v.rank() == 3 && h.dim(0) == v.dim(0)
                && (long) h.dim(1) * h.dim(3) == v.last() && h.dim(2) >= v.dim(1);
        touch(valuesHM, values, null, null);
        if (!valid) {
            require(false, "headMajorValues", "valuesHM", valuesHM, "values", values);
        }
        requireNoOverlap("headMajorValues", valuesHM, values);
    }

    /** {@link Backend#channelAttention}: {@code qkv [batch, tokens, 3·channels]}, groups divide channels. */
    public void channelAttention(Tensor out, Tensor qkv, int groups) {
        packedQkv("channelAttention", out, qkv, groups, "groups");
    }

    /** {@link Backend#windowPartition}: {@code x [batch, height·width, channels]} into padded windows. */
    public void windowPartition(Tensor out, Tensor x, int height, int width, int window) {
        windowLayout("windowPartition", out, "x", x, x, out, height, width, window);
    }

    /** {@link Backend#windowReverse}: padded windows back into {@code out [batch, height·width, channels]}. */
    public void windowReverse(Tensor out, Tensor windows, int height, int width, int window) {
        windowLayout("windowReverse", out, "windows", windows, out, windows, height, width, window);
    }

    /**
     * {@link Backend#conv2d}: square kernel, zero padding, no aliasing; {@code x} F32 or a matmul activation type.
     *
     * @return the kernel side and the output map's height and width
     */
    public Conv2dSize conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias, int stride,
            int padding) {
        Shape w = weight.shape();
        int kernel = w.rank() == 4 ? w.dim(3) : 0;
        int outHeight = stride > 0 ? Math.floorDiv(height + 2 * padding - kernel, stride) + 1 : 0;
        int outWidth = stride > 0 ? Math.floorDiv(width + 2 * padding - kernel, stride) + 1 : 0;
        require(isF32(out) && isMatmulActivation(x) && isWeight(weight) && (bias == null || isWeight(bias))
                && x.shape().rank() == 3 && out.shape().rank() == 3 && w.rank() == 4 && w.dim(2) == kernel
                && stride > 0 && padding >= 0 && height > 0 && width > 0 && outHeight > 0 && outWidth > 0
                && x.shape().dim(1) == (long) height * width && w.dim(1) == x.shape().last()
                && out.shape().equals(Shape.of(x.shape().dim(0), outHeight * outWidth, w.dim(0)))
                && (bias == null || bias.shape().equals(Shape.of(w.dim(0)))),
                "conv2d", "out", out, "x", x, "weight", weight, "bias", bias,
                "height " + height + ", width " + width + ", stride " + stride + ", padding " + padding);
        requireNoOverlap("conv2d", out, x, weight, bias);
        return new Conv2dSize(kernel, outHeight, outWidth);
    }

    /** {@link Backend#depthwiseConv3x3Residual}: weight {@code [channels, 1, 3, 3]}; {@code out} must not alias. */
    public void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias) {
        int channels = x.shape().last();
        require(isF32(out) && isF32(x) && isWeight(weight) && isWeight(bias) && x.shape().rank() == 3
                && out.shape().equals(x.shape()) && height > 0 && width > 0
                && x.shape().dim(1) == (long) height * width && weight.shape().equals(Shape.of(channels, 1, 3, 3))
                && bias.shape().equals(Shape.of(channels)),
                "depthwiseConv3x3Residual", "out", out, "x", x, "weight", weight, "bias", bias,
                "height " + height + ", width " + width);
        requireNoOverlap("depthwiseConv3x3Residual", out, x, weight, bias);
    }

    /** {@link Backend#channelsLast}: {@code [batch, channels, height, width] → [batch, height·width, channels]}. */
    public void channelsLast(Tensor out, Tensor x) {
        Shape s = x.shape();
        require(isF32(out) && isF32(x) && s.rank() == 4
                && out.shape().equals(Shape.of(s.dim(0), s.dim(2) * s.dim(3), s.dim(1))),
                "channelsLast", "out", out, "x", x);
        requireNoOverlap("channelsLast", out, x);
    }

    /** {@link Backend#meanTokens}: {@code [batch, tokens, channels] → [batch, 1, channels]}. */
    public void meanTokens(Tensor out, Tensor x) {
        Shape s = x.shape();
        require(isF32(out) && isF32(x) && s.rank() == 3 && out.shape().equals(s.withDim(1, 1)),
                "meanTokens", "out", out, "x", x);
        requireNoOverlap("meanTokens", out, x);
    }

    /**
     * {@link Backend#embedding}'s shapes and dtypes; the ids' values are checked by {@link #embeddingIds} once the
     * backend has them on the host.
     */
    public void embedding(Tensor out, Tensor table, Tensor ids) {
        Shape s = out.shape();
        require(isF32(out) && isWeight(table) && ids.dtype() == DType.I32 && (ids.device().isHost() || onDevice(ids))
                && s.rank() == 3 && table.shape().rank() == 2 && table.shape().last() == s.last()
                && ids.shape().equals(Shape.of(s.dim(0), s.dim(1))),
                "embedding", "out", out, "table", table, "ids", ids);
        requireNoOverlap("embedding", out, table, ids);
    }

    /** {@link Backend#embedding}: every id (in token order) is a row of {@code table}. */
    public static void embeddingIds(long[] ids, Tensor table) {
        int vocabulary = table.shape().dim(0);
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= vocabulary) {
                throw new IllegalArgumentException("embedding: id " + ids[t] + " at position " + t
                        + " outside the vocabulary [0, " + vocabulary + ") of table " + describe(table));
            }
        }
    }

    /** {@link Backend#concatTokens}: {@code [batch, tokensA, channels] ++ [batch, tokensB, channels]}. */
    public void concatTokens(Tensor out, Tensor a, Tensor b) {
        Shape sa = a.shape();
        Shape sb = b.shape();
        require(isF32(out) && isF32(a) && isF32(b) && sa.rank() == 3 && sb.rank() == 3 && sb.dim(0) == sa.dim(0)
                && sb.last() == sa.last() && out.shape().equals(sa.withDim(1, sa.dim(1) + sb.dim(1))),
                "concatTokens", "out", out, "a", a, "b", b);
        requireNoOverlap("concatTokens", out, a, b);
    }

    /**
     * {@link Backend#writeRows}: {@code src}'s rows fit in {@code cache} from {@code position}. Allocates nothing
     * unless it fails: a decoder step runs it per layer and token.
     */
    public void writeRows(Tensor cache, Tensor src, int position) {
        Shape c = cache.shape();
        Shape s = src.shape();
        boolean valid = isF32(cache) && isF32(src) && c.rank() == 3 && s.rank() == 3 && s.dim(0) == c.dim(0)
                && s.last() == c.last() && position >= 0 && position + s.dim(1) <= c.dim(1);
        touch(cache, src, null, null);
        if (!valid) {
            require(false, "writeRows", "cache", cache, "src", src, "position " + position);
        }
        requireNoOverlap("writeRows", cache, src);
    }

    /**
     * {@link Backend#gatherRows}: one valid source row per output row, first rows (if given) within the prefix;
     * {@code out} must not alias. Allocates nothing unless it fails: beam search runs it per layer and token.
     */
    public void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {
        Shape o = out.shape();
        Shape s = src.shape();
        boolean valid = isF32(out) && isF32(src) && o.rank() >= 2 && sameTrailingDims(o, s)
                && isRowIndex(sourceRows, o.dim(0), s.dim(0)) && rowsPrefix >= 0 && rowsPrefix <= o.dim(1)
                && (firstRows == null || areFirstRows(firstRows, o.dim(0), rowsPrefix));
        touch(out, src, null, null);
        if (!valid) {
            require(false, "gatherRows", "out", out, "src", src, "sourceRows " + Arrays.toString(sourceRows)
                    + ", firstRows " + Arrays.toString(firstRows) + ", rowsPrefix " + rowsPrefix);
        }
        requireNoOverlap("gatherRows", out, src);
    }

    /**
     * {@link Backend#logSoftmaxTopK}: outputs {@code [rows, k]} ({@code k ≤ vocabulary}) and {@code [rows]} on the
     * device, the ban list and offsets on the host or the device, no output overlapping another output or an input.
     * The listed ids are checked by {@link #bannedTokens} once the backend has them on the host. Allocates nothing
     * unless it fails: a search runs it every step.
     */
    public void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {
        boolean valid = isF32(scores) && isI32(tokens) && isF32(logProbs) && isF32(logSumExp) && isF32(logits)
                && (bannedTokens == null || isI32(bannedTokens) || isHostOf(bannedTokens, DType.I32))
                && (scoreOffsets == null || isF32(scoreOffsets) || isHostOf(scoreOffsets, DType.F32));
        if (valid) {
            Shape s = scores.shape();
            Shape l = logits.shape();
            int rows = l.dim(0);
            valid = l.rank() == 2 && s.rank() == 2 && s.dim(0) == rows && s.dim(1) <= l.dim(1)
                    && tokens.shape().equals(s) && logProbs.shape().equals(s) && isVector(logSumExp.shape(), rows)
                    && (bannedTokens == null || bannedTokens.shape().rank() == 2 && bannedTokens.shape().dim(0) == rows)
                    && (scoreOffsets == null || isVector(scoreOffsets.shape(), rows))
                    && forcedToken >= -1 && forcedToken < l.dim(1);
        }
        touch(scores, tokens, logProbs, logSumExp);
        touch(logits, bannedTokens, scoreOffsets, null);
        if (!valid) {
            require(false, "logSoftmaxTopK", "scores", scores, "tokens", tokens, "logProbs", logProbs, "logSumExp",
                    logSumExp, "logits", logits, "bannedTokens", bannedTokens, "scoreOffsets", scoreOffsets,
                    "forcedToken " + forcedToken);
        }
        requireNoOverlap("logSoftmaxTopK", scores, tokens, logProbs, logSumExp);
        requireNoOverlap("logSoftmaxTopK", tokens, logProbs, logSumExp);
        requireNoOverlap("logSoftmaxTopK", logProbs, logSumExp);
        requireNoOverlap("logSoftmaxTopK", scores, logits, bannedTokens, scoreOffsets);
        requireNoOverlap("logSoftmaxTopK", tokens, logits, bannedTokens, scoreOffsets);
        requireNoOverlap("logSoftmaxTopK", logProbs, logits, bannedTokens, scoreOffsets);
        requireNoOverlap("logSoftmaxTopK", logSumExp, logits, bannedTokens, scoreOffsets);
    }

    /**
     * {@link Backend#logSoftmaxTopK}: every id a row of the host I32 {@code [rows, width]} ban list holds before its
     * first negative entry is a token of the vocabulary. Allocates nothing unless it fails.
     */
    public static void bannedTokens(Tensor hostBanned, int vocabulary) {
        MemorySegment memory = hostBanned.memory();
        int rows = hostBanned.shape().dim(0);
        int width = hostBanned.shape().dim(1);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < width; i++) {
                int id = memory.getAtIndex(I32_LE, (long) r * width + i);
                if (id < 0) {
                    break;
                }
                if (id >= vocabulary) {
                    throw new IllegalArgumentException("logSoftmaxTopK: banned token id " + id + " at row " + r
                            + ", position " + i + " outside the vocabulary [0, " + vocabulary + ")");
                }
            }
        }
    }

    /** A tensor as messages show it: {@code "F32[2, 3] on cpu"}, or {@code "null"}. */
    public static String describe(Tensor tensor) {
        return tensor == null ? "null" : tensor.dtype() + "" + tensor.shape() + " on " + tensor.device();
    }

    private void elementwise(String op, Tensor out, Tensor x) {
        require(isF32(out) && isF32(x) && out.shape().equals(x.shape()), op, "out", out, "x", x);
    }

    private void packedQkv(String op, Tensor out, Tensor qkv, int splits, String splitName) {
        Shape shape = out.shape();
        require(isMatmulActivation(out) && qkv.dtype() == out.dtype() && onDevice(qkv) && shape.rank() == 3
                && splits > 0 && shape.last() % splits == 0
                && qkv.shape().equals(shape.withDim(2, 3 * shape.last())),
                op, "out", out, "qkv", qkv, splitName + " " + splits);
        requireNoOverlap(op, out, qkv);
    }

    /**
     * Window partition and reverse: {@code map [batch, height·width, channels]} and
     * {@code windows [batch·windowsDown·windowsAcross, window·window, channels]}.
     */
    private void windowLayout(String op, Tensor out, String inName, Tensor in, Tensor map, Tensor windows, int height,
            int width, int window) {
        Shape m = map.shape();
        boolean valid = isMatmulActivation(out) && in != null && in.dtype() == out.dtype() && onDevice(in)
                && m.rank() == 3 && windows.shape().rank() == 3 && window > 0
                && height > 0 && width > 0 && m.dim(1) == (long) height * width
                && windows.shape().equals(Shape.of(m.dim(0) * ceilDiv(height, window) * ceilDiv(width, window),
                        window * window, m.last()));
        require(valid, op, "out", out, inName, in, "height " + height + ", width " + width + ", window " + window);
        requireNoOverlap(op, out, in);
    }

    private boolean onDevice(Tensor tensor) {
        return tensor != null && tensor.device().equals(device);
    }

    private boolean isF32(Tensor tensor) {
        return onDevice(tensor) && tensor.dtype() == DType.F32;
    }

    private boolean isI32(Tensor tensor) {
        return onDevice(tensor) && tensor.dtype() == DType.I32;
    }

    private static boolean isHostOf(Tensor tensor, DType dtype) {
        return tensor.device().isHost() && tensor.dtype() == dtype;
    }

    private boolean isMatmulActivation(Tensor tensor) {
        return onDevice(tensor) && matmulActivationTypes.contains(tensor.dtype());
    }

    private boolean isWeight(Tensor tensor) {
        return onDevice(tensor) && weightTypes.contains(tensor.dtype());
    }

    private static boolean isConvertible(DType from, DType to) {
        return from == to || from.isFloatingPoint() && CONVERSION_TARGETS.contains(to);
    }

    // Shape predicates that compare dimensions in place: making shapes here would allocate on every decoder step.
    private static boolean sameLeadingDims(Shape a, Shape b) {
        boolean same = a.rank() == b.rank();
        for (int axis = 0; same && axis < a.rank() - 1; axis++) {
            same = a.dim(axis) == b.dim(axis);
        }
        return same;
    }

    private static boolean sameTrailingDims(Shape a, Shape b) {
        boolean same = a.rank() == b.rank();
        for (int axis = 1; same && axis < a.rank(); axis++) {
            same = a.dim(axis) == b.dim(axis);
        }
        return same;
    }

    /** Whether {@code rows} holds {@code length} indices, each in {@code [0, bound)}. */
    private static boolean isRowIndex(int[] rows, int length, int bound) {
        boolean valid = rows != null && rows.length == length;
        for (int i = 0; valid && i < rows.length; i++) {
            valid = rows[i] >= 0 && rows[i] < bound;
        }
        return valid;
    }

    private static boolean areFirstRows(int[] firstRows, int length, int rowsPrefix) {
        boolean valid = firstRows.length == length;
        for (int i = 0; valid && i < firstRows.length; i++) {
            valid = firstRows[i] >= 0 && firstRows[i] <= rowsPrefix;
        }
        return valid;
    }

    private static boolean isSuffix(Shape suffix, Shape shape) {
        int offset = shape.rank() - suffix.rank();
        boolean matches = offset >= 0;
        for (int axis = 0; matches && axis < suffix.rank(); axis++) {
            matches = suffix.dim(axis) == shape.dim(offset + axis);
        }
        return matches;
    }

    private static boolean isVector(Shape shape, int length) {
        return shape.rank() == 1 && shape.dim(0) == length;
    }

    private static int ceilDiv(int value, int divisor) {
        return (value + divisor - 1) / divisor;
    }

    /**
     * Throws {@link IllegalArgumentException} "op: invalid arguments name dtype[shape] on device, …" unless
     * {@code valid}. Labels are names followed by their tensor (null prints as "null"), or free text such as
     * "heads 3". Touches every tensor's memory first, so a tensor whose arena closed fails as
     * {@link IllegalStateException}.
     */
    private static void require(boolean valid, String op, Object... labelsAndTensors) {
        for (Object item : labelsAndTensors) {
            if (item instanceof Tensor tensor) {
                tensor.memory();
            }
        }
        if (!valid) {
            throw new IllegalArgumentException(op + ": invalid arguments " + describeAll(labelsAndTensors));
        }
    }

    /** What {@link #require} does first, with a fixed arity (no argument array); null tensors are skipped. */
    private static void touch(Tensor a, Tensor b, Tensor c, Tensor d) {
        touch(a);
        touch(b);
        touch(c);
        touch(d);
    }

    private static void touch(Tensor tensor) {
        if (tensor != null) {
            tensor.memory();
        }
    }

    private static String describeAll(Object... labelsAndTensors) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < labelsAndTensors.length; i++) {
            Object item = labelsAndTensors[i];
            boolean isLabel = i + 1 < labelsAndTensors.length && item instanceof String
                    && (labelsAndTensors[i + 1] instanceof Tensor || labelsAndTensors[i + 1] == null);
            if (isLabel) {
                text.append(item).append(' ').append(describe((Tensor) labelsAndTensors[++i]));
            } else {
                text.append(item);
            }
            if (i + 1 < labelsAndTensors.length) {
                text.append(", ");
            }
        }
        return text.toString();
    }

    // Fixed arities, not varargs: an argument array per call would allocate on every decoder step.
    private static void requireNoOverlap(String op, Tensor out, Tensor a, Tensor b, Tensor c) {
        requireNoOverlap(op, out, a, b);
        requireNoOverlap(op, out, c);
    }

    private static void requireNoOverlap(String op, Tensor out, Tensor a, Tensor b) {
        requireNoOverlap(op, out, a);
        requireNoOverlap(op, out, b);
    }

    private static void requireNoOverlap(String op, Tensor out, Tensor input) {
        boolean overlaps = input != null && input.device().equals(out.device())
                && out.memory().asOverlappingSlice(input.memory()).isPresent();
        if (overlaps) {
            throw new IllegalArgumentException(op + ": output " + describe(out) + " overlaps input "
                    + describe(input) + ", which this op does not allow");
        }
    }
}
