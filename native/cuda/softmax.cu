// Softmax over the last dimension, one block per row, max-subtracted. out may alias x.
extern "C" __global__ void softmax(float* out, const float* x, int width) {
    __shared__ float scratch[32];
    const float* row = x + (long long) blockIdx.x * width;
    float* outRow = out + (long long) blockIdx.x * width;
    float max = NEGATIVE_INFINITY;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        max = fmaxf(max, row[i]);
    }
    max = block_max(max, scratch);
    float sum = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        sum += expf(row[i] - max);
    }
    float inverse = 1.0f / block_sum(sum, scratch);
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        outRow[i] = expf(row[i] - max) * inverse;
    }
}

// Softmax of one row of attention scores in place over its first `visible` keys; the rest get probability 0.
__device__ void softmax_visible(float* row, int width, int visible) {
    __shared__ float scratch[32];
    float max = NEGATIVE_INFINITY;
    for (int i = threadIdx.x; i < visible; i += blockDim.x) {
        max = fmaxf(max, row[i]);
    }
    max = block_max(max, scratch);
    float sum = 0.0f;
    for (int i = threadIdx.x; i < visible; i += blockDim.x) {
        sum += expf(row[i] - max);
    }
    float inverse = 1.0f / block_sum(sum, scratch);
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        row[i] = i < visible ? expf(row[i] - max) * inverse : 0.0f;
    }
}

// Softmax of attention scores in place, rows [heads·batch·queryTokens, width] with query i = row % queryTokens.
// With a causal mask, query i sits at position pastTokens + i and sees keys 0 .. pastTokens + i; keys it may not
// see get probability 0 (AttentionMask.causal; BART's decoder self-attention).
extern "C" __global__ void attention_softmax(float* scores, int width, int queryTokens, int causal, int pastTokens) {
    int query = blockIdx.x % queryTokens;
    int visible = causal ? min(width, pastTokens + query + 1) : width;
    softmax_visible(scores + (long long) blockIdx.x * width, width, visible);
}

// attention_softmax, causal, with pastTokens read from device memory when the kernel runs: a decode step captured
// in a CUDA graph computes scores over the whole cache (width = its capacity) and masks the keys past the position
// of this replay.
extern "C" __global__ void attention_softmax_at(float* scores, int width, int queryTokens, const int* pastTokens) {
    int query = blockIdx.x % queryTokens;
    int visible = max(1, min(width, pastTokens[0] + query + 1));
    softmax_visible(scores + (long long) blockIdx.x * width, width, visible);
}
