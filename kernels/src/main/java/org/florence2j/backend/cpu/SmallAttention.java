package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * F32 attention of a small problem in Java, for {@link CpuBackend}'s attention ops
 * ({@link CpuBackend#SMALL_ATTENTION_BYTES}). A base decoder step's self-attention over 21 cached tokens (3 beams ×
 * 12 heads) is about a megaflop over 0.4 MB, for which oneDNN's three calls (scores, softmax, values) took 40–70 µs
 * per layer, as long as a 768×768 projection takes to stream its weights; on one thread here it took 19–29 µs.
 *
 * <p>Each query row's visible keys are split into one contiguous range per thread of the calling thread's OpenMP
 * team ({@link OpenMpTeam}), when the keys and values may be read from any thread (a confined arena's may not: then
 * the calling thread takes them all). A thread keeps, per head, its range's largest score, the sum of
 * {@code e^(s - largest)} and the values weighted by those; the calling thread then merges the ranges (one thread
 * alone weights by the normalised probabilities, as the primitives do). Split by heads instead, the two threads read
 * alternate halves of every cached token's row, and a base call over 128 tokens took 2.3× as long as on one thread
 * (220–290 against 95–100 µs); a contiguous range each streams.
 *
 * <p>The math is the primitives': {@code scale · q·kᵀ}, the keys after a query's causal position left out, the
 * softmax and then {@code p·v}, all in F32; only the order of the sums differs, and with several ranges the division
 * by the softmax's sum comes after the weighting. Both key layouts of {@link CpuBackend.Attention} are read where
 * they lie: token rows (a head's key is contiguous) and transposed keys (a head dimension's keys are contiguous).
 * Holds its scratch between calls; not thread-safe (the backend serialises its ops).
 */
final class SmallAttention {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    /** A thread that never starts: memory it may access is memory every thread may. */
    private static final Thread NO_OWNER = Thread.ofPlatform().unstarted(() -> { });

    private final OpenMpTeam team;
    private final OpenMpTeam.Share share = this::runShare; // made once: a capturing lambda would allocate per call
    private Range[] ranges = new Range[0];
    private float[] queries = new float[0]; // [groups · queryRows, channels], copied by the calling thread

    // The current call, read by every thread's share; cleared after it.
    private CpuBackend.Attention problem;
    private MemorySegment k;
    private MemorySegment v;
    private long kFirst;
    private long vFirst;
    private int threadsStarted;

    SmallAttention(OpenMpTeam team) {
        this.team = team;
    }

    /** One thread's key range of every query row: its scratch and its partial results. */
    private static final class Range {
        float[] scores = new float[0]; // [heads, keyRows]: the row in hand's e^(s - largest), or alone its softmax
        float[] largest = new float[0]; // [rows, heads]: the range's largest scaled score, -∞ for an empty range
        float[] sums = new float[0]; // [rows, heads]: Σ e^(s - largest) over the range
        float[] weighted = new float[0]; // [rows, channels]: Σ e^(s - largest) · v over the range
        final float[] lanes = new float[VectorMath.LANES]; // a vector's lanes, for VectorMath.sumLanes
    }

    /**
     * Key and value bytes this class reads for {@code a}: every query row reads its group's visible keys and values
     * once, all heads together (a group's rows do not share the reads).
     */
    static long bytesRead(CpuBackend.Attention a) {
        return 2L * a.groups * a.queryRows * a.keyRows * a.heads * a.headDim * Float.BYTES;
    }

    /** Whether the team's threads may read {@code k} and {@code v} (not memory of a confined arena). */
    static boolean readableByTeam(MemorySegment k, MemorySegment v) {
        return k.isAccessibleBy(NO_OWNER) && v.isAccessibleBy(NO_OWNER);
    }

    /**
     * Runs {@code a} on F32 {@code q}, {@code k}, {@code v} and {@code out}, each from its byte offset (the
     * element offsets of {@code a}'s strides start there), on up to {@code threads} threads.
     */
    void run(CpuBackend.Attention a, MemorySegment q, long qByteOffset, MemorySegment k, long kByteOffset,
            MemorySegment v, long vByteOffset, MemorySegment out, int threads) {
        boolean shared = threads > 1 && readableByTeam(k, v);
        int requested = shared ? threads : 1;
        int rows = (int) (a.groups * a.queryRows);
        int channels = (int) (a.heads * a.headDim);
        reserve(requested, rows, (int) a.heads, channels, (int) (a.heads * a.keyRows));
        long qFirst = qByteOffset / Float.BYTES;
        for (int group = 0; group < a.groups; group++) {
            for (int row = 0; row < a.queryRows; row++) {
                MemorySegment.copy(q, F32, (qFirst + group * a.queryGroupStride + row * a.queryRowStride)
                        * Float.BYTES, queries, (int) (group * a.queryRows + row) * channels, channels);
            }
        }
        problem = a;
        this.k = k;
        this.v = v;
        kFirst = kByteOffset / Float.BYTES;
        vFirst = vByteOffset / Float.BYTES;
        try {
            if (requested > 1) {
                team.run(share, requested);
            } else {
                runShare(0, 1);
            }
            merge(a, out);
        } finally {
            problem = null;
            this.k = null;
            this.v = null;
        }
    }

    private void runShare(int thread, int threads) {
        if (thread >= ranges.length) {
            throw new IllegalStateException("OpenMP started thread " + thread + " of a region sized for "
                    + ranges.length);
        }
        if (thread == 0) {
            threadsStarted = threads;
        }
        attendRange(ranges[thread], thread, threads);
    }

    /**
     * Share {@code thread} of {@code threads} of every query row's visible keys: the range's scores, their
     * largest, the exponentials' sum and the values weighted by them, for every head.
     */
    private void attendRange(Range s, int thread, int threads) {
        CpuBackend.Attention a = problem;
        int heads = (int) a.heads;
        int keyRows = (int) a.keyRows;
        int channels = (int) (a.heads * a.headDim);
        for (int group = 0; group < a.groups; group++) {
            long keys = kFirst + group * a.keyGroupStride;
            long values = vFirst + group * a.keyGroupStride;
            for (int row = 0; row < a.queryRows; row++) {
                int index = (int) (group * a.queryRows + row);
                int visible = (int) (a.mask.causal()
                        ? Math.min(keyRows, a.mask.pastTokens() + row % a.queryTokens + 1)
                        : keyRows);
                int from = (int) ((long) visible * thread / threads);
                int to = (int) ((long) visible * (thread + 1) / threads);
                if (from == to) {
                    Arrays.fill(s.largest, index * heads, (index + 1) * heads, Float.NEGATIVE_INFINITY);
                    Arrays.fill(s.sums, index * heads, (index + 1) * heads, 0f);
                    Arrays.fill(s.weighted, index * channels, (index + 1) * channels, 0f);
                    continue;
                }
                if (a.keyTokenStride == 1) {
                    scoresOfTransposedKeys(s, index * channels, keys, from, to);
                } else {
                    scoresOfKeyRows(s, index * channels, keys, from, to);
                }
                for (int head = 0; head < heads; head++) {
                    if (threads == 1) {
                        // The whole row: normalised probabilities, so the weighted values are the result.
                        VectorMath.softmax(s.scores, head * keyRows, to - from, a.scale, s.lanes);
                    } else {
                        float largest = VectorMath.scaleAndMax(s.scores, head * keyRows, to - from, a.scale);
                        s.largest[index * heads + head] = largest;
                        s.sums[index * heads + head] = VectorMath.expShiftedSum(s.scores, head * keyRows,
                                head * keyRows + to - from, largest, s.lanes);
                    }
                }
                weightedValues(s, index * channels, values, from, to);
            }
        }
    }

    /**
     * {@code scores[h·keyRows + t - from] = query_h · k_h[t]} for {@code t} in {@code [from, to)} over token rows
     * (a head's key contiguous, heads side by side in a row); the query at {@code query} in {@link #queries}.
     */
    private void scoresOfKeyRows(Range s, int query, long keys, int from, int to) {
        CpuBackend.Attention a = problem;
        int headDim = (int) a.headDim;
        int vectorEnd = FLOATS.loopBound(headDim);
        for (int t = from; t < to; t++) {
            for (int head = 0; head < a.heads; head++) {
                long keyByteOffset = (keys + t * a.keyTokenStride + head * a.keyHeadStride) * Float.BYTES;
                int first = query + head * headDim;
                FloatVector sum = FloatVector.zero(FLOATS);
                int d = 0;
                for (; d < vectorEnd; d += FLOATS.length()) {
                    FloatVector key = FloatVector.fromMemorySegment(FLOATS, k, keyByteOffset + (long) d * Float.BYTES,
                            LE);
                    sum = key.fma(FloatVector.fromArray(FLOATS, queries, first + d), sum);
                }
                sum.intoArray(s.lanes, 0);
                float dot = VectorMath.sumLanes(s.lanes);
                for (; d < headDim; d++) {
                    dot += queries[first + d] * k.get(F32, keyByteOffset + (long) d * Float.BYTES);
                }
                s.scores[(int) (head * a.keyRows) + t - from] = dot;
            }
        }
    }

    /**
     * {@code scores[h·keyRows + t - from] = Σ_d query_h[d] · k[h·headDim + d][t]} for {@code t} in
     * {@code [from, to)} over transposed keys (a head dimension's keys contiguous).
     */
    private void scoresOfTransposedKeys(Range s, int query, long keys, int from, int to) {
        CpuBackend.Attention a = problem;
        int headDim = (int) a.headDim;
        int count = to - from;
        int vectorEnd = FLOATS.loopBound(count);
        for (int head = 0; head < a.heads; head++) {
            int first = (int) (head * a.keyRows);
            Arrays.fill(s.scores, first, first + count, 0f);
            for (int d = 0; d < headDim; d++) {
                long rowByteOffset = (keys + head * a.keyHeadStride + d * a.keyDimStride + from) * Float.BYTES;
                float weight = queries[query + head * headDim + d];
                FloatVector broadcast = FloatVector.broadcast(FLOATS, weight);
                int t = 0;
                for (; t < vectorEnd; t += FLOATS.length()) {
                    FloatVector key = FloatVector.fromMemorySegment(FLOATS, k, rowByteOffset + (long) t * Float.BYTES,
                            LE);
                    key.fma(broadcast, FloatVector.fromArray(FLOATS, s.scores, first + t))
                            .intoArray(s.scores, first + t);
                }
                for (; t < count; t++) {
                    s.scores[first + t] += weight * k.get(F32, rowByteOffset + (long) t * Float.BYTES);
                }
            }
        }
    }

    /**
     * {@code weighted_h = Σ_t scores[h·keyRows + t - from] · v_h[t]} for {@code t} in {@code [from, to)}, token
     * after token (a head's value row contiguous in both layouts), into {@code s.weighted} from {@code at}.
     */
    private void weightedValues(Range s, int at, long values, int from, int to) {
        CpuBackend.Attention a = problem;
        int headDim = (int) a.headDim;
        Arrays.fill(s.weighted, at, at + (int) (a.heads * headDim), 0f);
        int vectorEnd = FLOATS.loopBound(headDim);
        for (int t = from; t < to; t++) {
            for (int head = 0; head < a.heads; head++) {
                long valueByteOffset = (values + t * a.valueRowStride + head * a.valueHeadStride) * Float.BYTES;
                int first = at + head * headDim;
                float p = s.scores[(int) (head * a.keyRows) + t - from];
                FloatVector weight = FloatVector.broadcast(FLOATS, p);
                int d = 0;
                for (; d < vectorEnd; d += FLOATS.length()) {
                    FloatVector value = FloatVector.fromMemorySegment(FLOATS, v,
                            valueByteOffset + (long) d * Float.BYTES, LE);
                    value.fma(weight, FloatVector.fromArray(FLOATS, s.weighted, first + d))
                            .intoArray(s.weighted, first + d);
                }
                for (; d < headDim; d++) {
                    s.weighted[first + d] += p * v.get(F32, valueByteOffset + (long) d * Float.BYTES);
                }
            }
        }
    }

    /**
     * On the calling thread: per query row and head, the ranges' weighted values rescaled to the largest score of
     * all ranges, summed, and divided by the rescaled sum; written to {@code out}. A single range's are the result.
     */
    private void merge(CpuBackend.Attention a, MemorySegment out) {
        int channels = (int) (a.heads * a.headDim);
        float[] merged = ranges[0].weighted; // range 0's partial is read first and overwritten with the result
        for (int group = 0; group < a.groups; group++) {
            for (int row = 0; row < a.queryRows; row++) {
                int index = (int) (group * a.queryRows + row);
                if (threadsStarted > 1) {
                    for (int head = 0; head < a.heads; head++) {
                        mergeHead(index * (int) a.heads + head, index * channels + head * (int) a.headDim,
                                (int) a.headDim, merged);
                    }
                }
                MemorySegment.copy(merged, index * channels, out, F32,
                        (group * a.outGroupStride + row * a.outRowStride) * Float.BYTES, channels);
            }
        }
    }

    /** One head of one row: the ranges' partials at {@code slot} and from {@code first} into {@code merged}. */
    private void mergeHead(int slot, int first, int headDim, float[] merged) {
        float largest = Float.NEGATIVE_INFINITY;
        for (int r = 0; r < threadsStarted; r++) {
            largest = Math.max(largest, ranges[r].largest[slot]);
        }
        float sum = 0;
        for (int r = 0; r < threadsStarted; r++) {
            Range range = ranges[r];
            // An empty range (largest -∞, nothing summed) weighs 0, not e^(-∞ + ∞).
            float factor = range.sums[slot] == 0f ? 0f : (float) Math.exp(range.largest[slot] - largest);
            sum += factor * range.sums[slot];
            for (int d = 0; d < headDim; d++) {
                float part = factor * range.weighted[first + d];
                merged[first + d] = r == 0 ? part : merged[first + d] + part;
            }
        }
        for (int d = 0; d < headDim; d++) {
            merged[first + d] /= sum;
        }
    }

    private void reserve(int threads, int rows, int heads, int channels, int scoreCount) {
        if (ranges.length < threads) {
            ranges = Arrays.copyOf(ranges, threads);
        }
        if (queries.length < rows * channels) {
            queries = new float[rows * channels];
        }
        for (int t = 0; t < threads; t++) {
            if (ranges[t] == null) {
                ranges[t] = new Range();
            }
            Range s = ranges[t];
            if (s.scores.length < scoreCount) {
                s.scores = new float[scoreCount];
            }
            if (s.largest.length < rows * heads) {
                s.largest = new float[rows * heads];
                s.sums = new float[rows * heads];
            }
            if (s.weighted.length < rows * channels) {
                s.weighted = new float[rows * channels];
            }
        }
    }
}
