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

// Attention of a few query rows (a decode step) in one launch: one block per (row, head) computes the row's scores
// over the visible keys, their softmax and the weighted values, where the GEMM path takes two GEMMs per head and a
// softmax launch. Block index = (batch · queryTokens + query) · heads + head; the row's K/V are batch / beamsPerKv's
// (beams share one image's cross-attention K/V). Key element (token j, dimension d) of a head is at
// keys[j · keyTokenStride + d · keyDimStride] and value element at values[j · valueTokenStride + d], from the head's
// start (keyHeadStride, valueHeadStride past its K/V batch's). The mask is attention_softmax's (devicePast non-null:
// attention_softmax_at's); masked keys are skipped, so their probability is 0 as there. width ≤
// DECODE_ATTENTION_MAX_KEYS, headDim ≤ DECODE_ATTENTION_MAX_HEAD_DIM, blockDim.x a multiple of 32 up to 1024
// (CudaBackend checks).
#define DECODE_ATTENTION_MAX_KEYS 4096
#define DECODE_ATTENTION_MAX_HEAD_DIM 128

extern "C" __global__ void decode_attention(float* out, const float* q, const float* k, const float* v,
        int queryTokens, int width, int channels, int heads, int headDim, int beamsPerKv, long long kvBatchStride,
        long long keyTokenStride, long long keyDimStride, long long keyHeadStride, long long valueTokenStride,
        long long valueHeadStride, float scale, int causal, int pastTokens, const int* devicePast) {
    __shared__ float probabilities[DECODE_ATTENTION_MAX_KEYS];
    __shared__ float query[DECODE_ATTENTION_MAX_HEAD_DIM];
    __shared__ float partial[32 * DECODE_ATTENTION_MAX_HEAD_DIM / 4];
    __shared__ float scratch[32];
    int head = blockIdx.x % heads;
    long long row = blockIdx.x / heads;
    int queryIndex = (int) (row % queryTokens);
    long long batch = row / queryTokens;
    long long kvBase = batch / beamsPerKv * kvBatchStride;
    const float* keys = k + kvBase + head * keyHeadStride;
    const float* values = v + kvBase + head * valueHeadStride;
    int visible = width;
    if (devicePast != 0) {
        visible = max(1, min(width, devicePast[0] + queryIndex + 1));
    } else if (causal) {
        visible = min(width, pastTokens + queryIndex + 1);
    }
    const float* queryRow = q + row * channels + (long long) head * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        query[d] = queryRow[d];
    }
    __syncthreads();
    // Scores, a thread per key with eight dimensions' loads in flight at a time (a dependent chain of loads was
    // the kernel's time); the scale multiplies the dot product, as the GEMM path's alpha does.
    float largest = NEGATIVE_INFINITY;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) {
        const float* key = keys + j * keyTokenStride;
        float dots[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        int d = 0;
        for (; d + 8 <= headDim; d += 8) {
            float loaded[8];
#pragma unroll
            for (int u = 0; u < 8; u++) {
                loaded[u] = key[(d + u) * keyDimStride];
            }
#pragma unroll
            for (int u = 0; u < 8; u++) {
                dots[u] = fmaf(query[d + u], loaded[u], dots[u]);
            }
        }
        for (; d < headDim; d++) {
            dots[0] = fmaf(query[d], key[d * keyDimStride], dots[0]);
        }
        float dot = ((dots[0] + dots[1]) + (dots[2] + dots[3])) + ((dots[4] + dots[5]) + (dots[6] + dots[7]));
        float score = scale * dot;
        probabilities[j] = score;
        largest = fmaxf(largest, score);
    }
    largest = block_max(largest, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) {
        float e = expf(probabilities[j] - largest);
        probabilities[j] = e;
        sum += e;
    }
    float inverse = 1.0f / block_sum(sum, scratch);
    __syncthreads();
    // Weighted values: warp w takes keys w, w + warps, ... four at a time; lane l the dimensions l, l + 32, ....
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    float acc[DECODE_ATTENTION_MAX_HEAD_DIM / 32];
    for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
        acc[i] = 0.0f;
    }
    int j = warp;
    for (; j + 3 * warps < visible; j += 4 * warps) {
        float p[4];
        const float* value[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            p[u] = probabilities[j + u * warps];
            value[u] = values + (j + u * warps) * valueTokenStride;
        }
#pragma unroll
        for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
            int d = lane + 32 * i;
            if (d < headDim) {
                float loaded[4];
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    loaded[u] = value[u][d];
                }
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    acc[i] = fmaf(p[u], loaded[u], acc[i]);
                }
            }
        }
    }
    for (; j < visible; j += warps) {
        float p = probabilities[j];
        const float* value = values + j * valueTokenStride;
        for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
            int d = lane + 32 * i;
            if (d < headDim) {
                acc[i] = fmaf(p, value[d], acc[i]);
            }
        }
    }
    // Per-warp sums to shared memory in rounds of at most 8 warps' worth (32 · 128 / 4 floats), then one thread per
    // dimension adds them up.
    float* outRow = out + row * channels + (long long) head * headDim;
    float total[DECODE_ATTENTION_MAX_HEAD_DIM / 32];
    for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
        total[i] = 0.0f;
    }
    int warpsPerRound = 32 * DECODE_ATTENTION_MAX_HEAD_DIM / 4 / DECODE_ATTENTION_MAX_HEAD_DIM;
    for (int first = 0; first < warps; first += warpsPerRound) {
        __syncthreads();
        if (warp >= first && warp < first + warpsPerRound) {
            for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
                int d = lane + 32 * i;
                if (d < headDim) {
                    partial[(warp - first) * DECODE_ATTENTION_MAX_HEAD_DIM + d] = acc[i];
                }
            }
        }
        __syncthreads();
        int count = min(warpsPerRound, warps - first);
        for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
            int d = threadIdx.x + blockDim.x * i;
            if (d < headDim) {
                for (int w = 0; w < count; w++) {
                    total[i] += partial[w * DECODE_ATTENTION_MAX_HEAD_DIM + d];
                }
            }
        }
    }
    for (int i = 0; i < DECODE_ATTENTION_MAX_HEAD_DIM / 32; i++) {
        int d = threadIdx.x + blockDim.x * i;
        if (d < headDim) {
            outRow[d] = total[i] * inverse;
        }
    }
}
