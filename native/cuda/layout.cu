// Data movement between layouts: channel-first to token-major, key transposition, head-major values, token mean,
// embedding gather.

// [batch, channels, tokens] -> [batch, tokens, channels]; one thread per output element.
extern "C" __global__ void channels_last(float* out, const float* x, int channels, int tokens, long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long rest = i / channels;
        int t = (int) (rest % tokens);
        long long b = rest / tokens;
        out[i] = x[(b * channels + c) * tokens + t];
    }
}

// keysT[b, c, t] = keys[b, t, c] for keys [batch, tokens, channels], keysT [batch, channels, capacity]; one thread per
// key element.
extern "C" __global__ void transpose_keys(float* keysT, const float* keys, int tokens, int channels, int capacity,
        long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long rest = i / channels;
        int t = (int) (rest % tokens);
        long long b = rest / tokens;
        keysT[(b * channels + c) * capacity + t] = keys[i];
    }
}

// valuesHM[b, h, t, d] = values[b, t, h * headDim + d] for values [batch, tokens, channels], valuesHM [batch,
// channels / headDim, capacity, headDim]; one thread per value element.
extern "C" __global__ void head_major_values(float* valuesHM, const float* values, int tokens, int channels,
        int headDim, int capacity, long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long rest = i / channels;
        int t = (int) (rest % tokens);
        long long b = rest / tokens;
        valuesHM[((b * (channels / headDim) + c / headDim) * capacity + t) * headDim + c % headDim] = values[i];
    }
}

// out[b, c] = mean over t of x[b, t, c]; one thread per (b, c), summed in double like ReferenceBackend.
extern "C" __global__ void mean_tokens(float* out, const float* x, int tokens, int channels, long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long b = i / channels;
        const float* column = x + b * tokens * channels + c;
        double sum = 0.0;
        for (int t = 0; t < tokens; t++) {
            sum += column[(long long) t * channels];
        }
        out[i] = (float) (sum / tokens);
    }
}

// out[t] = table[ids[t]] for every row t; ids were checked against the vocabulary on the host.
extern "C" __global__ void embedding(float* out, const void* table, int dtype, const int* ids, int channels,
                                     long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long row = i / channels;
        out[i] = load_element(table, dtype, (long long) ids[row] * channels + c);
    }
}
