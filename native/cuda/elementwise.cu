// Element-wise ops: GELU, broadcast add (bias and residual adds, position tables), dtype conversion.

// Exact GELU x·Φ(x) = x/2 · erfc(-x/√2); erfc keeps the far negative tail, where 1 + erf(x/√2) cancels.
extern "C" __global__ void gelu(float* out, const float* x, long long count) {
    FOR_EACH_INDEX(i, count) {
        float value = x[i];
        out[i] = 0.5f * value * erfcf(-value * 0.70710678118654752f);
    }
}

// out = a + b, b repeating every bCount elements (b's shape is a suffix of a's). out may alias a.
extern "C" __global__ void add_broadcast(float* out, const float* a, const void* b, int bDtype, long long count,
                                         long long bCount) {
    FOR_EACH_INDEX(i, count) {
        out[i] = a[i] + load_element(b, bDtype, i % bCount);
    }
}

// out = src converted between F32, F16 and BF16.
extern "C" __global__ void convert(void* out, int outDtype, const void* src, int srcDtype, long long count) {
    FOR_EACH_INDEX(i, count) {
        store_element(out, outDtype, i, load_element(src, srcDtype, i));
    }
}
