// KV-cache appends and beam reordering for a decode step captured in a CUDA graph: the position and the parent
// rows are read from device memory when the kernel runs (StepParameters), so one graph serves every token. Indices
// that fall outside the cache are skipped rather than written, whatever the parameters hold.

// cache[b, position + t, c] = src[b, t, c] for cache [batch, capacity, channels] and src [batch, tokens, channels].
extern "C" __global__ void write_rows_at(float* cache, const float* src, const int* position, int capacity,
                                         int tokens, int channels, long long count) {
    int first = position[0];
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long rest = i / channels;
        int row = first + (int) (rest % tokens);
        long long b = rest / tokens;
        if (row >= 0 && row < capacity) {
            cache[(b * capacity + row) * channels + c] = src[i];
        }
    }
}

// out[b, r, :] = src[sourceRows[b], r, :] for rows r < prefixRows[0] of out [batch, capacity, rowElements]; the
// launch covers the whole capacity, the filled prefix is known only on the device.
extern "C" __global__ void gather_rows_at(float* out, const float* src, const int* sourceRows, const int* prefixRows,
                                          int batch, int capacity, long long rowElements) {
    long long filled = (long long) min(max(prefixRows[0], 0), capacity) * rowElements;
    long long outer = (long long) capacity * rowElements;
    FOR_EACH_INDEX(i, batch * filled) {
        long long b = i / filled;
        long long within = i - b * filled;
        out[b * outer + within] = src[(long long) sourceRows[b] * outer + within];
    }
}
