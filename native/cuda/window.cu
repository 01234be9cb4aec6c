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
