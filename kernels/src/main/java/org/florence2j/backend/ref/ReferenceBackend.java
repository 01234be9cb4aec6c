package org.florence2j.backend.ref;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.EnumSet;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.backend.OpChecks;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The oracle {@link Backend}: plain Java loops on host memory, written to be obviously correct rather than fast,
 * against which every other backend is tested. It mirrors the reference's modules in
 * {@code modeling_florence2.py} (Florence-2 commit {@code 00d2f15}): {@code WindowAttention} with
 * {@code window_partition}/{@code window_reverse}, {@code ChannelAttention}, {@code DepthWiseConv2d},
 * {@code ConvEmbed}, and BART's attention.
 *
 * <p>How it reads the contract where {@link Backend} leaves room (arguments are checked by the {@link OpChecks}
 * every backend shares):
 * <ul>
 *   <li>Outputs and activation inputs must be {@link DType#F32} host tensors. Weight inputs (linear weight and
 *       bias, layer-norm weight and bias, conv weights and biases, the embedding table, {@code matmul}'s
 *       right-hand side and {@code add}'s second operand, which may be a weight such as a position table) may be
 *       any floating dtype and are read through {@link Tensor#getFloat}, so the model can run directly on
 *       memory-mapped 16-bit checkpoints.</li>
 *   <li>Every op reads its inputs completely before writing its output, so aliasing is always computed right;
 *       but an output that overlaps an input where the op does not allow it is rejected with
 *       {@link IllegalArgumentException}, so that model code that would break a faster backend fails here
 *       too.</li>
 *   <li>Sums are accumulated in {@code double}.</li>
 *   <li>{@link #attention} with a causal mask requires {@code pastTokens + queryTokens <= kvTokens}: a query
 *       whose own position is not yet in the cache is a caller bug.</li>
 *   <li>{@link #copy} and {@link #download} convert between F32, F16 and BF16 (BF16 rounds to nearest even, as
 *       PyTorch does); {@link #upload} returns the host tensor itself when the dtype already matches.</li>
 * </ul>
 */
public final class ReferenceBackend implements Backend {
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    // Below this |z| erf's power series is accurate to ~1e-15; above it erfc's continued fraction converges fast.
    private static final double ERF_SERIES_LIMIT = 2.5;

    private static final OpChecks CHECKS =
            new OpChecks(Device.cpu(), EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64));

    private boolean closed;

    @Override
    public Device device() {
        return Device.cpu();
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape, Arena owner) {
        requireOpen();
        return Tensor.allocateHost(dtype, shape, owner);
    }

    @Override
    public Tensor upload(Tensor host, DType dtype, Arena owner) {
        requireOpen();
        CHECKS.upload(host, dtype);
        if (host.dtype() == dtype) {
            return host;
        }
        Tensor converted = Tensor.allocateHost(dtype, host.shape(), owner);
        convert(converted, host);
        return converted;
    }

    @Override
    public void download(Tensor src, Tensor hostDst) {
        requireOpen();
        CHECKS.download(src, hostDst);
        convert(hostDst, src);
    }

    @Override
    public void copy(Tensor out, Tensor src) {
        requireOpen();
        CHECKS.copy(out, src);
        convert(out, src);
    }

    @Override
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        requireOpen();
        CHECKS.linear(out, x, weight, bias);
        store(out, linearResult(out, x, weight, bias));
    }

    @Override
    public void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        requireOpen();
        CHECKS.linearResidual(out, x, weight, bias);
        float[] result = linearResult(out, x, weight, bias);
        float[] previous = out.toFloatArray();
        for (int i = 0; i < result.length; i++) {
            result[i] += previous[i];
        }
        store(out, result);
    }

    /** {@code x · weightᵀ + bias} in double sums, {@code [rows · outFeatures]}. */
    private static float[] linearResult(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        int inFeatures = x.shape().last();
        int outFeatures = out.shape().last();
        float[] input = x.toFloatArray();
        float[] weights = weight.toFloatArray();
        float[] biases = bias == null ? new float[outFeatures] : bias.toFloatArray();
        long rows = x.shape().rows();
        float[] result = new float[Math.toIntExact(rows * outFeatures)];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < outFeatures; o++) {
                double sum = biases[o];
                for (int i = 0; i < inFeatures; i++) {
                    sum += (double) input[r * inFeatures + i] * weights[o * inFeatures + i];
                }
                result[r * outFeatures + o] = (float) sum;
            }
        }
        return result;
    }

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b) {
        requireOpen();
        CHECKS.matmul(out, a, b);
        int batch = a.shape().dim(0);
        int m = a.shape().dim(1);
        int k = a.shape().dim(2);
        int n = b.shape().dim(2);
        float[] left = a.toFloatArray();
        float[] right = b.toFloatArray();
        float[] result = new float[batch * m * n];
        for (int bi = 0; bi < batch; bi++) {
            int rightBatch = b.shape().dim(0) == 1 ? 0 : bi;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) {
                        sum += (double) left[(bi * m + i) * k + p] * right[(rightBatch * k + p) * n + j];
                    }
                    result[(bi * m + i) * n + j] = (float) sum;
                }
            }
        }
        store(out, result);
    }

    @Override
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {
        requireOpen();
        CHECKS.layerNorm(out, x, weight, bias);
        int channels = x.shape().last();
        float[] values = x.toFloatArray();
        float[] gamma = weight.toFloatArray();
        float[] beta = bias.toFloatArray();
        for (int r = 0; r < values.length / channels; r++) {
            int base = r * channels;
            double sum = 0;
            for (int c = 0; c < channels; c++) {
                sum += values[base + c];
            }
            double mean = sum / channels;
            double squares = 0;
            for (int c = 0; c < channels; c++) {
                double centered = values[base + c] - mean;
                squares += centered * centered;
            }
            // Biased variance (divide by channels), as torch.nn.LayerNorm.
            double invStd = 1.0 / Math.sqrt(squares / channels + eps);
            for (int c = 0; c < channels; c++) {
                values[base + c] = (float) ((values[base + c] - mean) * invStd * gamma[c] + beta[c]);
            }
        }
        store(out, values);
    }

    @Override
    public void gelu(Tensor out, Tensor x) {
        requireOpen();
        CHECKS.gelu(out, x);
        float[] values = x.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) gelu(values[i]);
        }
        store(out, values);
    }

    @Override
    public void softmax(Tensor out, Tensor x) {
        requireOpen();
        CHECKS.softmax(out, x);
        float[] values = x.toFloatArray();
        int width = x.shape().last();
        double[] row = new double[width];
        for (int base = 0; base < values.length; base += width) {
            for (int i = 0; i < width; i++) {
                row[i] = values[base + i];
            }
            softmaxInPlace(row, 0, width);
            for (int i = 0; i < width; i++) {
                values[base + i] = (float) row[i];
            }
        }
        store(out, values);
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        requireOpen();
        CHECKS.add(out, a, b);
        float[] left = a.toFloatArray();
        float[] right = b.toFloatArray();
        for (int i = 0; i < left.length; i++) {
            left[i] = (float) ((double) left[i] + right[i % right.length]);
        }
        store(out, left);
    }

    @Override
    public void selfAttention(Tensor out, Tensor qkv, int heads, float scale) {
        requireOpen();
        CHECKS.selfAttention(out, qkv, heads);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int tokens = shape.dim(1);
        int channels = shape.dim(2);
        float[] packed = qkv.toFloatArray();
        float[] result = new float[batch * tokens * channels];
        // The reference's reshape(B, N, 3, heads, headDim): q, k, v are consecutive blocks of `channels` within a
        // token's row, each split into heads of headDim.
        for (int b = 0; b < batch; b++) {
            int rowBase = b * tokens * 3 * channels;
            attendHeads(result, b * tokens * channels, packed, rowBase, 3 * channels, packed, rowBase + channels,
                    packed, rowBase + 2 * channels, 3 * channels, tokens, tokens, channels, heads, scale,
                    AttentionMask.none());
        }
        store(out, result);
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale,
            AttentionMask mask) {
        requireOpen();
        CHECKS.attention(out, q, k, v, kvTokens, heads, mask);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int queryTokens = shape.dim(1);
        int channels = shape.dim(2);
        int capacity = k.shape().dim(1);
        int beamsPerKv = batch / k.shape().dim(0);
        float[] queries = q.toFloatArray();
        float[] keys = k.toFloatArray();
        float[] values = v.toFloatArray();
        float[] result = new float[batch * queryTokens * channels];
        for (int b = 0; b < batch; b++) {
            int kvBase = (b / beamsPerKv) * capacity * channels;
            attendHeads(result, b * queryTokens * channels, queries, b * queryTokens * channels, channels,
                    keys, kvBase, values, kvBase, channels, queryTokens, kvTokens, channels, heads, scale, mask);
        }
        store(out, result);
    }

    /** {@link #attention} on keys and values read back from their transposed and head-major layouts. */
    @Override
    public void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor v, int kvTokens, int heads,
            float scale) {
        requireOpen();
        CHECKS.attentionTransposedKeys(out, q, keysT, v, kvTokens, heads);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int queryTokens = shape.dim(1);
        int channels = shape.dim(2);
        int kvBatch = keysT.shape().dim(0);
        int capacity = keysT.shape().dim(2);
        int beamsPerKv = batch / kvBatch;
        float[] queries = q.toFloatArray();
        float[] transposed = keysT.toFloatArray();
        float[] keys = new float[kvBatch * capacity * channels];
        for (int b = 0; b < kvBatch; b++) {
            for (int c = 0; c < channels; c++) {
                for (int t = 0; t < kvTokens; t++) {
                    keys[(b * capacity + t) * channels + c] = transposed[(b * channels + c) * capacity + t];
                }
            }
        }
        float[] headMajor = v.toFloatArray();
        int headDim = channels / heads;
        float[] values = new float[kvBatch * capacity * channels];
        for (int b = 0; b < kvBatch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < kvTokens; t++) {
                    System.arraycopy(headMajor, ((b * heads + h) * capacity + t) * headDim, values,
                            (b * capacity + t) * channels + h * headDim, headDim);
                }
            }
        }
        float[] result = new float[batch * queryTokens * channels];
        for (int b = 0; b < batch; b++) {
            int kvBase = (b / beamsPerKv) * capacity * channels;
            attendHeads(result, b * queryTokens * channels, queries, b * queryTokens * channels, channels,
                    keys, kvBase, values, kvBase, channels, queryTokens, kvTokens, channels, heads, scale,
                    AttentionMask.none());
        }
        store(out, result);
    }

    @Override
    public void transposeKeys(Tensor keysT, Tensor keys) {
        requireOpen();
        CHECKS.transposeKeys(keysT, keys);
        int channels = keys.shape().dim(2);
        long capacity = keysT.shape().dim(2);
        copyTokenRows(keysT, keys, (b, t, c) -> ((long) b * channels + c) * capacity + t);
    }

    @Override
    public void headMajorValues(Tensor valuesHM, Tensor values) {
        requireOpen();
        CHECKS.headMajorValues(valuesHM, values);
        Shape h = valuesHM.shape();
        int heads = h.dim(1);
        long capacity = h.dim(2);
        int headDim = h.dim(3);
        copyTokenRows(valuesHM, values, (b, t, c) -> (((long) b * heads + c / headDim) * capacity + t) * headDim
                + c % headDim);
    }

    /** Where element {@code (b, t, c)} of a {@code [batch, tokens, channels]} tensor goes in another layout. */
    private interface TokenLayout {
        long index(int b, int t, int c);
    }

    /** Writes every element of {@code rows} {@code [batch, tokens, channels]} to {@code to} at {@code layout}. */
    private static void copyTokenRows(Tensor to, Tensor rows, TokenLayout layout) {
        Shape s = rows.shape();
        int tokens = s.dim(1);
        int channels = s.dim(2);
        float[] values = rows.toFloatArray();
        for (int b = 0; b < s.dim(0); b++) {
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < channels; c++) {
                    to.setFloat(layout.index(b, t, c), values[(b * tokens + t) * channels + c]);
                }
            }
        }
    }

    @Override
    public void channelAttention(Tensor out, Tensor qkv, int groups, float scale) {
        requireOpen();
        CHECKS.channelAttention(out, qkv, groups);
        Shape shape = out.shape();
        int batch = shape.dim(0);
        int tokens = shape.dim(1);
        int channels = shape.dim(2);
        int groupChannels = channels / groups;
        float[] packed = qkv.toFloatArray();
        float[] result = new float[batch * tokens * channels];
        double[] attn = new double[groupChannels * groupChannels];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                // ChannelAttention: reshape(B, N, 3, groups, C/groups), so channel i of group g of q/k/v for
                // token n sits at [n, part·C + g·Cg + i].
                int qOffset = b * tokens * 3 * channels + g * groupChannels;
                int kOffset = qOffset + channels;
                int vOffset = qOffset + 2 * channels;
                // attn[i, j] = Σ_n (q[n, i]·scale)·k[n, j]: q is scaled before the product, as the reference.
                for (int i = 0; i < groupChannels; i++) {
                    for (int j = 0; j < groupChannels; j++) {
                        double sum = 0;
                        for (int n = 0; n < tokens; n++) {
                            int row = n * 3 * channels;
                            sum += (double) (packed[qOffset + row + i] * scale) * packed[kOffset + row + j];
                        }
                        attn[i * groupChannels + j] = sum;
                    }
                    softmaxInPlace(attn, i * groupChannels, groupChannels);
                }
                // out[n, i] = Σ_j attn[i, j]·v[n, j]: the reference's (attn @ vᵀ)ᵀ, then groups side by side.
                for (int n = 0; n < tokens; n++) {
                    int row = n * 3 * channels;
                    for (int i = 0; i < groupChannels; i++) {
                        double sum = 0;
                        for (int j = 0; j < groupChannels; j++) {
                            sum += attn[i * groupChannels + j] * packed[vOffset + row + j];
                        }
                        result[(b * tokens + n) * channels + g * groupChannels + i] = (float) sum;
                    }
                }
            }
        }
        store(out, result);
    }

    @Override
    public void windowPartition(Tensor out, Tensor x, int height, int width, int window) {
        requireOpen();
        CHECKS.windowPartition(out, x, height, width, window);
        int batch = x.shape().dim(0);
        int channels = x.shape().last();
        float[] map = x.toFloatArray();
        // Positions beyond the map stay zero: the reference's F.pad on the right and bottom.
        float[] windows = new float[Math.toIntExact(out.elementCount())];
        forEachWindowToken(batch, height, width, window, (mapToken, windowToken) ->
                System.arraycopy(map, mapToken * channels, windows, windowToken * channels, channels));
        store(out, windows);
    }

    @Override
    public void windowReverse(Tensor out, Tensor windows, int height, int width, int window) {
        requireOpen();
        CHECKS.windowReverse(out, windows, height, width, window);
        int batch = out.shape().dim(0);
        int channels = out.shape().last();
        float[] cut = windows.toFloatArray();
        float[] map = new float[Math.toIntExact(out.elementCount())];
        // Tokens of the padding are dropped: the reference's x[:, :H, :W, :] after window_reverse.
        forEachWindowToken(batch, height, width, window, (mapToken, windowToken) ->
                System.arraycopy(cut, windowToken * channels, map, mapToken * channels, channels));
        store(out, map);
    }

    @Override
    public void conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias, int stride,
            int padding) {
        requireOpen();
        OpChecks.Conv2dSize size = CHECKS.conv2d(out, x, height, width, weight, bias, stride, padding);
        int kernel = size.kernel();
        int outHeight = size.outHeight();
        int outWidth = size.outWidth();
        int batch = x.shape().dim(0);
        int inChannels = weight.shape().dim(1);
        int outChannels = weight.shape().dim(0);
        float[] input = x.toFloatArray();
        float[] filters = weight.toFloatArray();
        float[] biases = bias == null ? new float[outChannels] : bias.toFloatArray();
        float[] result = new float[Math.toIntExact(out.elementCount())];
        for (int b = 0; b < batch; b++) {
            for (int oy = 0; oy < outHeight; oy++) {
                for (int ox = 0; ox < outWidth; ox++) {
                    for (int o = 0; o < outChannels; o++) {
                        double sum = biases[o];
                        for (int ky = 0; ky < kernel; ky++) {
                            int y = oy * stride - padding + ky;
                            for (int kx = 0; kx < kernel; kx++) {
                                int xx = ox * stride - padding + kx;
                                if (y < 0 || y >= height || xx < 0 || xx >= width) {
                                    continue; // zero padding
                                }
                                int inBase = ((b * height + y) * width + xx) * inChannels;
                                for (int i = 0; i < inChannels; i++) {
                                    // torch layout [out, in, ky, kx]
                                    double filter = filters[((o * inChannels + i) * kernel + ky) * kernel + kx];
                                    sum += input[inBase + i] * filter;
                                }
                            }
                        }
                        result[((b * outHeight + oy) * outWidth + ox) * outChannels + o] = (float) sum;
                    }
                }
            }
        }
        store(out, result);
    }

    @Override
    public void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias) {
        requireOpen();
        CHECKS.depthwiseConv3x3Residual(out, x, height, width, weight, bias);
        int channels = x.shape().last();
        int batch = x.shape().dim(0);
        float[] input = x.toFloatArray();
        float[] filters = weight.toFloatArray();
        float[] biases = bias.toFloatArray();
        float[] result = new float[input.length];
        for (int b = 0; b < batch; b++) {
            for (int y = 0; y < height; y++) {
                for (int xx = 0; xx < width; xx++) {
                    int token = (b * height + y) * width + xx;
                    for (int c = 0; c < channels; c++) {
                        // DepthWiseConv2d: groups = channels, kernel 3, padding 1, stride 1, bias.
                        double sum = biases[c];
                        for (int ky = 0; ky < 3; ky++) {
                            int sy = y - 1 + ky;
                            for (int kx = 0; kx < 3; kx++) {
                                int sx = xx - 1 + kx;
                                if (sy >= 0 && sy < height && sx >= 0 && sx < width) {
                                    int source = ((b * height + sy) * width + sx) * channels + c;
                                    sum += (double) input[source]
                                            * filters[(c * 3 + ky) * 3 + kx];
                                }
                            }
                        }
                        // SpatialBlock's PreNorm(None, DepthWiseConv2d) adds its input back.
                        result[token * channels + c] = (float) (input[token * channels + c] + sum);
                    }
                }
            }
        }
        store(out, result);
    }

    @Override
    public void channelsLast(Tensor out, Tensor x) {
        requireOpen();
        CHECKS.channelsLast(out, x);
        Shape s = x.shape();
        int batch = s.dim(0);
        int channels = s.dim(1);
        int tokens = s.dim(2) * s.dim(3);
        float[] input = x.toFloatArray();
        float[] result = new float[input.length];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < channels; c++) {
                for (int t = 0; t < tokens; t++) {
                    result[(b * tokens + t) * channels + c] = input[(b * channels + c) * tokens + t];
                }
            }
        }
        store(out, result);
    }

    @Override
    public void meanTokens(Tensor out, Tensor x) {
        requireOpen();
        CHECKS.meanTokens(out, x);
        Shape s = x.shape();
        int batch = s.dim(0);
        int tokens = s.dim(1);
        int channels = s.dim(2);
        float[] input = x.toFloatArray();
        float[] result = new float[batch * channels];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < channels; c++) {
                double sum = 0;
                for (int t = 0; t < tokens; t++) {
                    sum += input[(b * tokens + t) * channels + c];
                }
                result[b * channels + c] = (float) (sum / tokens);
            }
        }
        store(out, result);
    }

    @Override
    public void embedding(Tensor out, Tensor table, Tensor ids) {
        requireOpen();
        CHECKS.embedding(out, table, ids);
        int channels = out.shape().last();
        long[] tokenIds = ids.toLongArray();
        OpChecks.embeddingIds(tokenIds, table);
        float[] result = new float[Math.toIntExact(out.elementCount())];
        for (int t = 0; t < tokenIds.length; t++) {
            long id = tokenIds[t];
            // Reads only the rows used: the table can be a large memory-mapped 16-bit checkpoint tensor.
            for (int c = 0; c < channels; c++) {
                result[t * channels + c] = table.getFloat(id * channels + c);
            }
        }
        store(out, result);
    }

    @Override
    public void concatTokens(Tensor out, Tensor a, Tensor b) {
        requireOpen();
        CHECKS.concatTokens(out, a, b);
        Shape sa = a.shape();
        int batch = sa.dim(0);
        int rowA = sa.dim(1) * sa.last();
        int rowB = b.shape().dim(1) * sa.last();
        float[] first = a.toFloatArray();
        float[] second = b.toFloatArray();
        float[] result = new float[first.length + second.length];
        for (int i = 0; i < batch; i++) {
            System.arraycopy(first, i * rowA, result, i * (rowA + rowB), rowA);
            System.arraycopy(second, i * rowB, result, i * (rowA + rowB) + rowA, rowB);
        }
        store(out, result);
    }

    @Override
    public void writeRows(Tensor cache, Tensor src, int position) {
        requireOpen();
        CHECKS.writeRows(cache, src, position);
        Shape c = cache.shape();
        Shape s = src.shape();
        int rowElements = s.dim(1) * s.last();
        float[] rows = src.toFloatArray();
        for (int b = 0; b < s.dim(0); b++) {
            long cacheBase = ((long) b * c.dim(1) + position) * c.last();
            for (int i = 0; i < rowElements; i++) {
                cache.setFloat(cacheBase + i, rows[b * rowElements + i]);
            }
        }
    }

    @Override
    public void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {
        requireOpen();
        CHECKS.gatherRows(out, src, sourceRows, firstRows, rowsPrefix);
        Shape o = out.shape();
        long innerElements = o.elementCount() / ((long) o.dim(0) * o.dim(1));
        long prefixElements = rowsPrefix * innerElements;
        long outerElements = o.dim(1) * innerElements;
        for (int b = 0; b < sourceRows.length; b++) {
            for (long i = firstRows == null ? 0 : firstRows[b] * innerElements; i < prefixElements; i++) {
                out.setFloat(b * outerElements + i, src.getFloat(sourceRows[b] * outerElements + i));
            }
        }
    }

    /**
     * Row by row as the contract reads: the log-softmax in double (rounded once to F32), the processors on a copy
     * of the row, the kept probability summed in double, then {@code k} selections of the first best remaining
     * token.
     */
    @Override
    public void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {
        requireOpen();
        CHECKS.logSoftmaxTopK(scores, tokens, logProbs, logSumExp, logits, bannedTokens, forcedToken, scoreOffsets);
        int rows = logits.shape().dim(0);
        int vocabulary = logits.shape().dim(1);
        int k = scores.shape().dim(1);
        if (bannedTokens != null) {
            OpChecks.bannedTokens(bannedTokens, vocabulary);
        }
        float[] x = logits.toFloatArray();
        for (int r = 0; r < rows; r++) {
            int base = r * vocabulary;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocabulary; v++) {
                max = Math.max(max, x[base + v]);
            }
            double sum = 0;
            for (int v = 0; v < vocabulary; v++) {
                sum += Math.exp(x[base + v] - max);
            }
            double logSum = Math.log(sum);
            float[] logProb = new float[vocabulary];
            for (int v = 0; v < vocabulary; v++) {
                logProb[v] = (float) (x[base + v] - max - logSum);
            }
            for (int id : bannedIds(bannedTokens, r)) {
                logProb[id] = Float.NEGATIVE_INFINITY;
            }
            if (forcedToken >= 0) {
                Arrays.fill(logProb, Float.NEGATIVE_INFINITY);
                logProb[forcedToken] = 0f;
            }
            double kept = 0;
            for (int v = 0; v < vocabulary; v++) {
                kept += logProb[v] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(x[base + v] - max);
            }
            logSumExp.setFloat(r, forcedToken >= 0 ? 0f : (float) Math.log(kept / sum));
            float offset = scoreOffsets == null ? 0f : scoreOffsets.getFloat(r);
            float[] score = new float[vocabulary];
            for (int v = 0; v < vocabulary; v++) {
                score[v] = logProb[v] + offset;
            }
            boolean[] chosen = new boolean[vocabulary];
            for (int rank = 0; rank < k; rank++) {
                int best = -1;
                for (int v = 0; v < vocabulary; v++) {
                    if (!chosen[v] && score[v] > Float.NEGATIVE_INFINITY && (best < 0 || score[v] > score[best])) {
                        best = v;
                    }
                }
                long at = (long) r * k + rank;
                scores.setFloat(at, best < 0 ? Float.NEGATIVE_INFINITY : score[best]);
                tokens.memory().setAtIndex(I32_LE, at, best);
                logProbs.setFloat(at, best < 0 ? Float.NEGATIVE_INFINITY : logProb[best]);
                if (best >= 0) {
                    chosen[best] = true;
                }
            }
        }
    }

    /** The ids row {@code row} of a host ban list holds before its first negative entry. */
    private static int[] bannedIds(Tensor bannedTokens, int row) {
        if (bannedTokens == null) {
            return new int[0];
        }
        int width = bannedTokens.shape().dim(1);
        long[] entries = bannedTokens.narrow(row, 1).toLongArray();
        int count = 0;
        while (count < width && entries[count] >= 0) {
            count++;
        }
        return Arrays.stream(entries, 0, count).mapToInt(Math::toIntExact).toArray();
    }

    @Override
    public void synchronize() {
        requireOpen();
    }

    @Override
    public void close() {
        closed = true;
    }

    /**
     * Exact GELU, {@code x·Φ(x)} with the standard normal CDF computed in double to about 1e-15 relative, also in
     * the far negative tail where {@code 1 + erf} would cancel. The scalar other backends' GELU is checked against.
     */
    public static double gelu(double x) {
        return x * 0.5 * erfc(-x * SQRT_HALF);
    }

    /** The error function, to about 1e-15. */
    static double erf(double z) {
        if (Math.abs(z) < ERF_SERIES_LIMIT) {
            // erf(z) = 2/√π · e^{-z²} · Σ_n (2z²)^n · z / (1·3·…·(2n+1)); every term positive, so no cancellation.
            double term = z;
            double sum = z;
            for (int n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
                term *= 2 * z * z / (2 * n + 1);
                sum += term;
            }
            return TWO_OVER_SQRT_PI * Math.exp(-z * z) * sum;
        }
        return Math.signum(z) * (1 - erfcContinuedFraction(Math.abs(z)));
    }

    /** The complementary error function {@code 1 - erf(z)}, accurate relative to its own value for large z. */
    static double erfc(double z) {
        if (z >= ERF_SERIES_LIMIT) {
            return erfcContinuedFraction(z);
        }
        if (z <= -ERF_SERIES_LIMIT) {
            return 2 - erfcContinuedFraction(-z);
        }
        return 1 - erf(z);
    }

    /**
     * erfc(z) = e^{-z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))) for z > 0, by the modified Lentz method.
     */
    private static double erfcContinuedFraction(double z) {
        double tiny = 1e-300;
        double f = z;
        double c = z;
        double d = 0;
        for (int n = 1; n < 500; n++) {
            double a = n / 2.0;
            d = z + a * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = z + a / c;
            if (Math.abs(c) < tiny) {
                c = tiny;
            }
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
    }

    /**
     * Attention for every head of one batch row. Row {@code t} of q starts at {@code qBase + t·qStride}; rows of k
     * and v likewise with {@code kvStride}; heads are consecutive {@code headDim} slices of a row.
     */
    private static void attendHeads(float[] out, int outBase, float[] q, int qBase, int qStride, float[] k,
            int kBase, float[] v, int vBase, int kvStride, int queryTokens, int kvTokens, int channels, int heads,
            float scale, AttentionMask mask) {
        int headDim = channels / heads;
        double[] scores = new double[kvTokens];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < queryTokens; i++) {
                int visible = mask.causal() ? mask.pastTokens() + i + 1 : kvTokens;
                int qRow = qBase + i * qStride + h * headDim;
                for (int j = 0; j < visible; j++) {
                    int kRow = kBase + j * kvStride + h * headDim;
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += (double) q[qRow + d] * k[kRow + d];
                    }
                    scores[j] = dot * scale;
                }
                softmaxInPlace(scores, 0, visible);
                for (int d = 0; d < headDim; d++) {
                    double sum = 0;
                    for (int j = 0; j < visible; j++) {
                        sum += scores[j] * v[vBase + j * kvStride + h * headDim + d];
                    }
                    out[outBase + i * channels + h * headDim + d] = (float) sum;
                }
            }
        }
    }

    /** Max-subtracted softmax of {@code values[base, base + width)}. */
    private static void softmaxInPlace(double[] values, int base, int width) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < width; i++) {
            max = Math.max(max, values[base + i]);
        }
        double sum = 0;
        for (int i = 0; i < width; i++) {
            values[base + i] = Math.exp(values[base + i] - max);
            sum += values[base + i];
        }
        for (int i = 0; i < width; i++) {
            values[base + i] /= sum;
        }
    }

    /** Visits every real map token with its index in the padded, windowed layout. */
    private static void forEachWindowToken(int batch, int height, int width, int window, TokenPair visitor) {
        int down = ceilDiv(height, window);
        int across = ceilDiv(width, window);
        for (int b = 0; b < batch; b++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    // window_partition: view(B, Hp/w, w, Wp/w, w, C).permute(0, 1, 3, 2, 4, 5).
                    int windowIndex = (b * down + y / window) * across + x / window;
                    int withinWindow = (y % window) * window + x % window;
                    visitor.accept((b * height + y) * width + x, windowIndex * window * window + withinWindow);
                }
            }
        }
    }

    @FunctionalInterface
    private interface TokenPair {
        void accept(int mapToken, int windowToken);
    }

    private static int ceilDiv(int value, int divisor) {
        return (value + divisor - 1) / divisor;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("ReferenceBackend used after close");
        }
    }

    /** Writes F32 values into an F32 host tensor. */
    private static void store(Tensor out, float[] values) {
        MemorySegment.copy(values, 0, out.memory(), F32_LE, 0, values.length);
    }

    /** Element-wise dtype conversion between host tensors of equal element count. */
    private static void convert(Tensor out, Tensor src) {
        if (out.dtype() == src.dtype()) {
            MemorySegment.copy(src.memory(), 0, out.memory(), 0, src.byteSize());
            return;
        }
        MemorySegment memory = out.memory();
        for (long i = 0; i < src.elementCount(); i++) {
            float value = src.getFloat(i);
            switch (out.dtype()) {
                case F32 -> memory.setAtIndex(F32_LE, i, value);
                case F16 -> memory.setAtIndex(I16_LE, i, Float.floatToFloat16(value));
                case BF16 -> memory.setAtIndex(I16_LE, i, toBfloat16(value));
                default -> throw new IllegalArgumentException("no conversion to " + out.dtype());
            }
        }
    }

    /** Round-to-nearest-even F32 → BF16, NaN kept quiet, as PyTorch's {@code c10::BFloat16} conversion. */
    static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
