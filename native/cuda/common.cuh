// Shared by every kernel file: CudaModules prepends it to each .cu before NVRTC compiles it (NVRTC gets no
// include path), and native/check-ptx.sh passes it to nvcc with -include. No system headers are used, so the
// kernels compile the same with NVRTC and nvcc.

// Element types of the operands that may be 16-bit (weights, conversion targets); CudaBackend.dtypeCode.
#define DTYPE_F32 0
#define DTYPE_F16 1
#define DTYPE_BF16 2

#define NEGATIVE_INFINITY __int_as_float(0xff800000)

__device__ __forceinline__ float half_to_float(unsigned short bits) {
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(bits));
    return value;
}

__device__ __forceinline__ unsigned short float_to_half(float value) {
    unsigned short bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(value));
    return bits;
}

// Round to nearest even, NaN kept quiet: the same rule as PyTorch and ReferenceBackend.toBfloat16.
__device__ __forceinline__ unsigned short float_to_bfloat16(float value) {
    unsigned int bits = __float_as_uint(value);
    if (value != value) {
        return (unsigned short) ((bits >> 16) | 0x0040u);
    }
    return (unsigned short) ((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float load_element(const void* data, int dtype, long long index) {
    if (dtype == DTYPE_F16) {
        return half_to_float(((const unsigned short*) data)[index]);
    }
    if (dtype == DTYPE_BF16) {
        return __uint_as_float(((unsigned int) ((const unsigned short*) data)[index]) << 16);
    }
    return ((const float*) data)[index];
}

__device__ __forceinline__ void store_element(void* data, int dtype, long long index, float value) {
    if (dtype == DTYPE_F16) {
        ((unsigned short*) data)[index] = float_to_half(value);
    } else if (dtype == DTYPE_BF16) {
        ((unsigned short*) data)[index] = float_to_bfloat16(value);
    } else {
        ((float*) data)[index] = value;
    }
}

// Grid-stride loop over [0, count): every element kernel launches with a bounded grid.
#define FOR_EACH_INDEX(i, count) \
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < (count); \
         i += (long long) gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float value) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

__device__ __forceinline__ float warp_max(float value) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    }
    return value;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result: each warp reads
// the per-warp partial sums by lane and reduces them again. `scratch` holds 32 floats of shared memory and may be
// reused right after the call returns.
__device__ float block_sum(float value, float* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    value = warp_sum(value);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    value = lane < (blockDim.x >> 5) ? scratch[lane] : 0.0f;
    value = warp_sum(value);
    return value;
}

__device__ float block_max(float value, float* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    value = warp_max(value);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    value = lane < (blockDim.x >> 5) ? scratch[lane] : NEGATIVE_INFINITY;
    value = warp_max(value);
    return value;
}
