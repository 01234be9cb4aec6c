// DaViT window partition and reverse (the reference's F.pad + window_partition, and window_reverse + crop).
// Maps are [batch, height·width, channels]; windows are [batch·down·across, window·window, channels], windows
// row by row, tokens within a window row by row; down = ceil(height / window), across = ceil(width / window).

// One thread per window element; positions in the padding are zero.
extern "C" __global__ void window_partition(float* out, const float* x, int height, int width, int window,
                                            int channels, long long count) {
    int down = (height + window - 1) / window;
    int across = (width + window - 1) / window;
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long token = i / channels;
        int within = (int) (token % (window * window));
        long long windowIndex = token / (window * window);
        int wx = (int) (windowIndex % across);
        int wy = (int) ((windowIndex / across) % down);
        long long b = windowIndex / ((long long) across * down);
        int y = wy * window + within / window;
        int xx = wx * window + within % window;
        out[i] = (y < height && xx < width) ? x[((b * height + y) * width + xx) * channels + c] : 0.0f;
    }
}

// One thread per map element; window tokens in the padding are dropped.
extern "C" __global__ void window_reverse(float* out, const float* windows, int height, int width, int window,
                                          int channels, long long count) {
    int down = (height + window - 1) / window;
    int across = (width + window - 1) / window;
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long token = i / channels;
        int xx = (int) (token % width);
        int y = (int) ((token / width) % height);
        long long b = token / ((long long) width * height);
        long long windowIndex = (b * down + y / window) * across + xx / window;
        int within = (y % window) * window + xx % window;
        out[i] = windows[(windowIndex * window * window + within) * channels + c];
    }
}

// Self-attention within each window, from packed q/k/v rows [windows, tokens, 3·channels] (head h of q, k, v at
// h·headDim within each row's three blocks) into out [windows, tokens, channels], in one launch where the GEMM path
// takes two GEMMs per head or window and a softmax. One block per (window, head), block index window·heads + head,
// holds the head's keys and values in shared memory; each thread takes one query row through the keys with a running
// maximum (online softmax), rescaling its sums when the maximum grows, so scores are never stored. The scale
// multiplies the dot product, as the GEMM path's alpha does. tokens ≤ blockDim.x, tokens·headDim ≤
// WINDOW_ATTENTION_MAX_ELEMENTS, headDim a multiple of 4 and at most HEAD_DIM (CudaBackend checks).
#define WINDOW_ATTENTION_MAX_ELEMENTS 5120 // CudaBackend's WINDOW_ATTENTION_MAX_ELEMENTS

template <int HEAD_DIM>
__device__ void window_attention(float* out, const float* qkv, int tokens, int channels, int heads, int headDim,
                                 float scale) {
    __shared__ float4 keys[WINDOW_ATTENTION_MAX_ELEMENTS / 4];
    __shared__ float4 values[WINDOW_ATTENTION_MAX_ELEMENTS / 4];
    int head = blockIdx.x % heads;
    long long window = blockIdx.x / heads;
    long long rowStride = 3LL * channels;
    const float* first = qkv + window * tokens * rowStride + (long long) head * headDim;
    int quads = headDim / 4;
    for (int e = threadIdx.x; e < tokens * quads; e += blockDim.x) {
        const float* row = first + (e / quads) * rowStride + 4 * (e % quads);
        keys[e] = make_float4(row[channels], row[channels + 1], row[channels + 2], row[channels + 3]);
        values[e] = make_float4(row[2 * channels], row[2 * channels + 1], row[2 * channels + 2],
                                row[2 * channels + 3]);
    }
    __syncthreads();
    int i = threadIdx.x;
    if (i >= tokens) {
        return;
    }
    float q[HEAD_DIM];
    float acc[HEAD_DIM];
#pragma unroll
    for (int d = 0; d < HEAD_DIM; d++) {
        q[d] = d < headDim ? first[i * rowStride + d] : 0.0f;
        acc[d] = 0.0f;
    }
    float largest = NEGATIVE_INFINITY;
    float sum = 0.0f;
    for (int j = 0; j < tokens; j++) {
        const float4* key = keys + j * quads;
        float dots[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int d = 0; d < HEAD_DIM; d += 4) {
            if (d < headDim) {
                float4 k = key[d / 4];
                dots[0] = fmaf(q[d], k.x, dots[0]);
                dots[1] = fmaf(q[d + 1], k.y, dots[1]);
                dots[2] = fmaf(q[d + 2], k.z, dots[2]);
                dots[3] = fmaf(q[d + 3], k.w, dots[3]);
            }
        }
        float score = scale * ((dots[0] + dots[1]) + (dots[2] + dots[3]));
        if (score > largest) {
            float shrink = expf(largest - score);
            sum *= shrink;
#pragma unroll
            for (int d = 0; d < HEAD_DIM; d++) {
                acc[d] *= shrink;
            }
            largest = score;
        }
        float p = expf(score - largest);
        sum += p;
        const float4* value = values + j * quads;
#pragma unroll
        for (int d = 0; d < HEAD_DIM; d += 4) {
            if (d < headDim) {
                float4 v = value[d / 4];
                acc[d] = fmaf(p, v.x, acc[d]);
                acc[d + 1] = fmaf(p, v.y, acc[d + 1]);
                acc[d + 2] = fmaf(p, v.z, acc[d + 2]);
                acc[d + 3] = fmaf(p, v.w, acc[d + 3]);
            }
        }
    }
    float inverse = 1.0f / sum;
    float* outRow = out + (window * tokens + i) * channels + (long long) head * headDim;
#pragma unroll
    for (int d = 0; d < HEAD_DIM; d++) {
        if (d < headDim) {
            outRow[d] = acc[d] * inverse;
        }
    }
}

// window_attention for head dimensions up to 32 (DaViT's) and up to 64.
extern "C" __global__ void window_attention_32(float* out, const float* qkv, int tokens, int channels, int heads,
                                               int headDim, float scale) {
    window_attention<32>(out, qkv, tokens, channels, heads, headDim, scale);
}

extern "C" __global__ void window_attention_64(float* out, const float* qkv, int tokens, int channels, int heads,
                                               int headDim, float scale) {
    window_attention<64>(out, qkv, tokens, channels, heads, headDim, scale);
}
