// LayerNorm over the last dimension, one block per row: out = (x - mean) / sqrt(var + eps) * weight + bias, with
// the biased variance of torch.nn.LayerNorm. Two passes over the row (mean, then squared deviations) rather than
// one pass of sum and sum of squares, which cancels badly when |mean| >> std. out may alias x: each thread reads
// its elements before writing them.
extern "C" __global__ void layer_norm(float* out, const float* x, const void* weight, const void* bias,
                                      int weightDtype, int biasDtype, int channels, float eps) {
    __shared__ float scratch[32];
    const float* row = x + (long long) blockIdx.x * channels;
    float* outRow = out + (long long) blockIdx.x * channels;
    float sum = 0.0f;
    for (int c = threadIdx.x; c < channels; c += blockDim.x) {
        sum += row[c];
    }
    float mean = block_sum(sum, scratch) / channels;
    float squares = 0.0f;
    for (int c = threadIdx.x; c < channels; c += blockDim.x) {
        float centered = row[c] - mean;
        squares += centered * centered;
    }
    float invStd = rsqrtf(block_sum(squares, scratch) / channels + eps);
    for (int c = threadIdx.x; c < channels; c += blockDim.x) {
        outRow[c] = (row[c] - mean) * invStd * load_element(weight, weightDtype, c)
                + load_element(bias, biasDtype, c);
    }
}
