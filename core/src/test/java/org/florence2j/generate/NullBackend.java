package org.florence2j.generate;

import java.lang.foreign.Arena;
import org.florence2j.backend.AttentionMask;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A backend whose ops do nothing (buffers stay zero), so that measuring a generation's Java allocations counts
 * only the model and search code, not a backend's own bookkeeping.
 */
final class NullBackend implements Backend {
    @Override
    public Device device() {
        return Device.cpu();
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape, Arena owner) {
        return Tensor.allocateHost(dtype, shape, owner);
    }

    @Override
    public Tensor upload(Tensor host, DType dtype, Arena owner) {
        return host;
    }

    @Override
    public void download(Tensor src, Tensor hostDst) {}

    @Override
    public void copy(Tensor out, Tensor src) {}

    @Override
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias) {}

    @Override
    public void linearResidual(Tensor out, Tensor x, Tensor weight, Tensor bias) {}

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b) {}

    @Override
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {}

    @Override
    public void gelu(Tensor out, Tensor x) {}

    @Override
    public void softmax(Tensor out, Tensor x) {}

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {}

    @Override
    public void selfAttention(Tensor out, Tensor qkv, int heads, float scale) {}

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, int kvTokens, int heads, float scale,
            AttentionMask mask) {}

    @Override
    public void attentionTransposedKeys(Tensor out, Tensor q, Tensor keysT, Tensor valuesHM, int kvTokens, int heads,
            float scale) {}

    @Override
    public void transposeKeys(Tensor keysT, Tensor keys) {}

    @Override
    public void headMajorValues(Tensor valuesHM, Tensor values) {}

    @Override
    public void channelAttention(Tensor out, Tensor qkv, int groups, float scale) {}

    @Override
    public void windowPartition(Tensor out, Tensor x, int height, int width, int window) {}

    @Override
    public void windowReverse(Tensor out, Tensor windows, int height, int width, int window) {}

    @Override
    public void conv2d(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias, int stride,
            int padding) {}

    @Override
    public void depthwiseConv3x3Residual(Tensor out, Tensor x, int height, int width, Tensor weight, Tensor bias) {}

    @Override
    public void channelsLast(Tensor out, Tensor x) {}

    @Override
    public void meanTokens(Tensor out, Tensor x) {}

    @Override
    public void embedding(Tensor out, Tensor table, Tensor ids) {}

    @Override
    public void concatTokens(Tensor out, Tensor a, Tensor b) {}

    @Override
    public void writeRows(Tensor cache, Tensor src, int position) {}

    @Override
    public void gatherRows(Tensor out, Tensor src, int[] sourceRows, int[] firstRows, int rowsPrefix) {}

    @Override
    public void logSoftmaxTopK(Tensor scores, Tensor tokens, Tensor logProbs, Tensor logSumExp, Tensor logits,
            Tensor bannedTokens, int forcedToken, Tensor scoreOffsets) {}

    @Override
    public void synchronize() {}

    @Override
    public void close() {}
}
