// Convolutions on token-major (NHWC) maps.

// Depthwise 3x3, stride 1, padding 1, with the input added back: out = x + dwconv(x) (the reference's residual
// PreNorm(None, DepthWiseConv2d)). Weight [channels, 1, 3, 3], bias [channels]. One thread per output element,
// channel fastest so neighbouring threads read neighbouring addresses.
extern "C" __global__ void depthwise_conv3x3_residual(float* out, const float* x, const void* weight,
                                                      const void* bias, int weightDtype, int biasDtype,
                                                      int height, int width,
                                                      int channels, long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % channels);
        long long token = i / channels;
        int xx = (int) (token % width);
        int y = (int) ((token / width) % height);
        long long b = token / ((long long) width * height);
        float sum = load_element(bias, biasDtype, c);
        for (int ky = 0; ky < 3; ky++) {
            int sy = y - 1 + ky;
            if (sy < 0 || sy >= height) {
                continue;
            }
            for (int kx = 0; kx < 3; kx++) {
                int sx = xx - 1 + kx;
                if (sx >= 0 && sx < width) {
                    sum += x[((b * height + sy) * width + sx) * channels + c]
                            * load_element(weight, weightDtype, (c * 3 + ky) * 3 + kx);
                }
            }
        }
        out[i] = x[i] + sum;
    }
}

// im2col for a dense convolution as one GEMM: cols [batch·outHeight·outWidth, inChannels·kernel·kernel], column
// (i·kernel + ky)·kernel + kx to match PyTorch's [out, in, ky, kx] weight rows; zero outside the map (padding).
// Written in the weight's dtype so cuBLAS sees matching operand types.
extern "C" __global__ void im2col(void* cols, int colsDtype, const float* x, int height, int width, int channels,
                                  int kernel, int stride, int padding, int outHeight, int outWidth,
                                  long long count) {
    int patch = channels * kernel * kernel;
    FOR_EACH_INDEX(i, count) {
        int column = (int) (i % patch);
        long long row = i / patch;
        int kx = column % kernel;
        int ky = (column / kernel) % kernel;
        int c = column / (kernel * kernel);
        int ox = (int) (row % outWidth);
        int oy = (int) ((row / outWidth) % outHeight);
        long long b = row / ((long long) outWidth * outHeight);
        int y = oy * stride - padding + ky;
        int xx = ox * stride - padding + kx;
        float value = (y >= 0 && y < height && xx >= 0 && xx < width)
                ? x[((b * height + y) * width + xx) * channels + c] : 0.0f;
        store_element(cols, colsDtype, i, value);
    }
}

// PyTorch's weight [out, groupChannels, kernel, kernel] (any dtype) to cuDNN's NHWC filter [out, kernel, kernel,
// groupChannels] in F32, for CudaBackend's cuDNN path. One thread per output element.
extern "C" __global__ void filter_to_nhwc(float* out, const void* weight, int weightDtype, int groupChannels,
                                          int kernel, long long count) {
    FOR_EACH_INDEX(i, count) {
        int c = (int) (i % groupChannels);
        long long position = i / groupChannels;
        int kx = (int) (position % kernel);
        int ky = (int) ((position / kernel) % kernel);
        long long o = position / ((long long) kernel * kernel);
        out[i] = load_element(weight, weightDtype, ((o * groupChannels + c) * kernel + ky) * kernel + kx);
    }
}
