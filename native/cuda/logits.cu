// Backend.logSoftmaxTopK: per row of next-token logits, log_softmax, the generation processors (banned tokens, a
// forced token), a score offset and the k best tokens, so that a search downloads k candidates per row instead of
// the row. One block per row, blockDim.x a multiple of 32 and at most 1024.
//
// Candidates rank by higher score, then lower token (ReferenceBackend.logSoftmaxTopK); a token scoring -inf is
// never a candidate, and the slots it leaves are (score -inf, token -1, log-prob -inf).
//
// Top-k: each thread keeps its best TOP_K_CHUNK tokens sorted in registers while it strides over the row; each warp
// then merges its 32 lists by repeated warp-wide arg-max of the list heads, and warp 0 merges the warps' lists the
// same way. k above TOP_K_CHUNK takes further rounds, each over the tokens ranking after the last one chosen.

#define TOP_K_CHUNK 16
#define MAX_WARPS 32

// Whether (scoreA, tokenA) ranks before (scoreB, tokenB); token -1 is "no candidate" and ranks last.
__device__ __forceinline__ bool ranks_before(float scoreA, int tokenA, float scoreB, int tokenB) {
    if (tokenA < 0) {
        return false;
    }
    if (tokenB < 0) {
        return true;
    }
    return scoreA > scoreB || (scoreA == scoreB && tokenA < tokenB);
}

// Inserts into a best-first list held in registers (the loops unroll to fixed indices). The caller has checked
// score > scores[TOP_K_CHUNK - 1]; a thread offers its tokens in increasing order, so an equal score goes after the
// entries already held. Slot j takes its upper neighbour while the new score beats that neighbour, else the new
// entry if it beats slot j's own (still unmoved) entry.
__device__ __forceinline__ void insert(float (&scores)[TOP_K_CHUNK], int (&tokens)[TOP_K_CHUNK], float score,
                                       int token) {
#pragma unroll
    for (int j = TOP_K_CHUNK - 1; j > 0; j--) {
        if (score > scores[j - 1]) {
            scores[j] = scores[j - 1];
            tokens[j] = tokens[j - 1];
        } else if (score > scores[j]) {
            scores[j] = score;
            tokens[j] = token;
        }
    }
    if (score > scores[0]) {
        scores[0] = score;
        tokens[0] = token;
    }
}

__device__ __forceinline__ void pop_front(float (&scores)[TOP_K_CHUNK], int (&tokens)[TOP_K_CHUNK]) {
#pragma unroll
    for (int j = 0; j < TOP_K_CHUNK - 1; j++) {
        scores[j] = scores[j + 1];
        tokens[j] = tokens[j + 1];
    }
    scores[TOP_K_CHUNK - 1] = NEGATIVE_INFINITY;
    tokens[TOP_K_CHUNK - 1] = -1;
}

// Takes the best `count` entries of the 32 lanes' lists, best first: lane 0 stores them at outScores/outTokens.
// Valid tokens are distinct across lanes, so the butterfly leaves every lane with the same winner, and exactly one
// lane pops it.
__device__ void warp_merge(float (&scores)[TOP_K_CHUNK], int (&tokens)[TOP_K_CHUNK], int count, float* outScores,
                           int* outTokens) {
    for (int i = 0; i < count; i++) {
        float bestScore = scores[0];
        int bestToken = tokens[0];
        for (int offset = 16; offset > 0; offset >>= 1) {
            float otherScore = __shfl_xor_sync(0xffffffffu, bestScore, offset);
            int otherToken = __shfl_xor_sync(0xffffffffu, bestToken, offset);
            if (ranks_before(otherScore, otherToken, bestScore, bestToken)) {
                bestScore = otherScore;
                bestToken = otherToken;
            }
        }
        if (bestToken >= 0 && tokens[0] == bestToken) {
            pop_front(scores, tokens);
        }
        if ((threadIdx.x & 31) == 0) {
            outScores[i] = bestScore;
            outTokens[i] = bestToken;
        }
    }
}

__device__ __forceinline__ bool is_banned(const unsigned int* bits, int token) {
    return (bits[token >> 5] >> (token & 31)) & 1u;
}

// scores, logProbs, tokens: [rows, k]; logSumExp: [rows]; logits: [rows, vocabulary]; banned: [rows, banWidth]
// or null, each row's ids ended by its first negative entry; offsets: [rows] or null for 0. Dynamic shared memory:
// (vocabulary + 31) / 32 words, the row's ban bitmap.
extern "C" __global__ void log_softmax_top_k(float* scores, int* tokens, float* logProbs, float* logSumExp,
                                             const float* logits, int vocabulary, int k, const int* banned,
                                             int banWidth, int forcedToken, const float* offsets) {
    extern __shared__ unsigned int bannedBits[];
    __shared__ float scratch[32];
    __shared__ float warpScores[MAX_WARPS][TOP_K_CHUNK];
    __shared__ int warpTokens[MAX_WARPS][TOP_K_CHUNK];
    __shared__ float lastScore;
    __shared__ int lastToken;
    int row = blockIdx.x;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    const float* x = logits + (long long) row * vocabulary;
    float* rowScores = scores + (long long) row * k;
    int* rowTokens = tokens + (long long) row * k;
    float* rowLogProbs = logProbs + (long long) row * k;
    float offset = offsets != nullptr ? offsets[row] : 0.0f;

    if (forcedToken >= 0) {
        // The forced token's log-prob is 0 and every other token's -inf, whatever the logits.
        for (int i = threadIdx.x; i < k; i += blockDim.x) {
            rowScores[i] = i == 0 ? 0.0f + offset : NEGATIVE_INFINITY;
            rowTokens[i] = i == 0 ? forcedToken : -1;
            rowLogProbs[i] = i == 0 ? 0.0f : NEGATIVE_INFINITY;
        }
        if (threadIdx.x == 0) {
            logSumExp[row] = 0.0f;
        }
        return;
    }

    int words = (vocabulary + 31) >> 5;
    for (int w = threadIdx.x; w < words; w += blockDim.x) {
        bannedBits[w] = 0u;
    }
    __syncthreads();
    if (banned != nullptr && warp == 0) {
        // 32 entries at a time; the lanes before the list's first negative entry set their bits.
        const int* list = banned + (long long) row * banWidth;
        for (int first = 0; first < banWidth; first += 32) {
            int index = first + lane;
            int id = index < banWidth ? list[index] : -1;
            unsigned int ends = __ballot_sync(0xffffffffu, id < 0);
            int listed = ends != 0u ? __ffs(ends) - 1 : 32;
            if (lane < listed) {
                atomicOr(&bannedBits[id >> 5], 1u << (id & 31));
            }
            if (ends != 0u) {
                break;
            }
        }
    }
    __syncthreads();

    float max = NEGATIVE_INFINITY;
    for (int v = threadIdx.x; v < vocabulary; v += blockDim.x) {
        max = fmaxf(max, x[v]);
    }
    max = block_max(max, scratch);
    // kept sums the same terms as total minus the banned ones, so without bans the two are equal bit for bit.
    float total = 0.0f;
    float kept = 0.0f;
    for (int v = threadIdx.x; v < vocabulary; v += blockDim.x) {
        float e = expf(x[v] - max);
        total += e;
        kept += is_banned(bannedBits, v) ? 0.0f : e;
    }
    total = block_sum(total, scratch);
    kept = block_sum(kept, scratch);
    float logTotal = logf(total);
    if (threadIdx.x == 0) {
        logSumExp[row] = kept > 0.0f ? logf(kept) - logTotal : NEGATIVE_INFINITY;
    }

    for (int first = 0; first < k; first += TOP_K_CHUNK) {
        int count = min(TOP_K_CHUNK, k - first);
        float boundScore = first == 0 ? 0.0f : lastScore;
        int boundToken = first == 0 ? 0 : lastToken;
        float topScores[TOP_K_CHUNK];
        int topTokens[TOP_K_CHUNK];
#pragma unroll
        for (int j = 0; j < TOP_K_CHUNK; j++) {
            topScores[j] = NEGATIVE_INFINITY;
            topTokens[j] = -1;
        }
        for (int v = threadIdx.x; v < vocabulary; v += blockDim.x) {
            if (is_banned(bannedBits, v)) {
                continue;
            }
            // The contract's F32 operations, in its order; no multiply, so nothing contracts into an FMA.
            float score = ((x[v] - max) - logTotal) + offset;
            if (score > topScores[TOP_K_CHUNK - 1] && (first == 0 || ranks_before(boundScore, boundToken, score, v))) {
                insert(topScores, topTokens, score, v);
            }
        }
        warp_merge(topScores, topTokens, count, warpScores[warp], warpTokens[warp]);
        __syncthreads();
        if (warp == 0) {
            int warps = blockDim.x >> 5;
#pragma unroll
            for (int j = 0; j < TOP_K_CHUNK; j++) {
                bool held = lane < warps && j < count;
                topScores[j] = held ? warpScores[lane][j] : NEGATIVE_INFINITY;
                topTokens[j] = held ? warpTokens[lane][j] : -1;
            }
            warp_merge(topScores, topTokens, count, rowScores + first, rowTokens + first);
            if (lane == 0) {
                for (int i = first; i < first + count; i++) {
                    int token = rowTokens[i];
                    rowLogProbs[i] = token < 0 ? NEGATIVE_INFINITY : (x[token] - max) - logTotal;
                }
                lastScore = rowScores[first + count - 1];
                lastToken = rowTokens[first + count - 1];
            }
        }
        __syncthreads();
    }
}
