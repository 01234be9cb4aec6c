package org.florence2j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.florence2j.bindings.Dnnl;

/**
 * Cross-attention of a bf16-mode decoder step ({@link CpuBackend#attentionTransposedKeys}) over keys and values
 * packed once per image into bf16, computed in Java on the calling thread's OpenMP team ({@link OpenMpTeam}), the
 * image's heads shared between its threads.
 *
 * <p>Why: a base decoder step reads 21.5 MB of F32 cross-attention keys and values, ~12 % of its bf16 weights'
 * bytes on top of them; in bf16 they are half that. oneDNN's batched bf16 matmuls over them needed bf16 queries
 * (split into two bf16 parts to stay nearly F32) and bf16 probabilities, and five calls a layer (two score
 * matmuls, softmax, values, the split): ~100 µs a layer in a base step, against ~36 µs to read the layer's 1.8 MB
 * at 50 GB/s. Here one region a layer reads each key and value once: each thread takes a share of the heads, whose
 * packed keys lie one after another, then their values (80 KB a head for base), and reads them as two streams.
 *
 * <p>Precision: F32 attention over the keys and values rounded to bf16 (to nearest even). The queries and
 * probabilities stay F32, and each product is exact in F32 (a bf16 value times an F32 one), so only the order of
 * the F32 sums differs from the reference's.
 *
 * <p>Layout: a head's keys as the weights of a {@code [headDim] → [tokens]} product and its values as those of a
 * {@code [tokens] → [headDim]} one, each in blocks of {@value #BLOCK} output columns, a block's input rows in pairs,
 * a pair's two bf16 values side by side in one 32-bit word ({@code [block][pair][column][2]}, oneDNN's
 * {@code BA16a64b2a}); padding is zero. A block is {@link #pairBlock}'s stream.
 *
 * <p>The packed copies are this class's, one per image slot of the caller's F32 tensors (identified by address),
 * made from those F32 tensors on the first call after {@link #invalidate} and kept until the tensors' memory is
 * freed. The F32 tensors stay as {@link CpuBackend#transposeKeys} and {@link CpuBackend#headMajorValues} wrote them.
 * Holds its scratch between calls; not thread-safe (the backend serialises its ops).
 */
final class PackedCrossAttention implements AutoCloseable {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    /** Output columns of a packed block. */
    private static final int BLOCK = 64;
    /** Bytes of one input-row pair of a block: {@link #BLOCK} columns of two bf16 values. */
    private static final int PAIR_BYTES = BLOCK * 2 * Short.BYTES;
    /** Query rows {@link #pairBlock} computes at once: 3 rows × 4 vectors of sums fit the registers. */
    private static final int ROWS = 3;
    /** Columns {@link #pairBlock} computes per pass over a block's pairs: four vectors a row. */
    private static final int CHUNK = 4 * FLOATS.length();

    static {
        if (BLOCK % CHUNK != 0) {
            throw new ExceptionInInitializerError("PackedCrossAttention needs vectors of at most "
                    + BLOCK / 4 + " floats, this JVM's are " + FLOATS.length());
        }
    }

    private final DnnlPrimitiveCache cache;
    private final MemorySegment engine;
    private final OpenMpTeam team;
    private final List<PackedSlot> slots = new ArrayList<>();
    // Made once: a lambda capturing a call's arguments would be allocation in every decoder step.
    private final OpenMpTeam.Share attendShare = this::attendShare;
    private ThreadScratch[] scratch = new ThreadScratch[0];

    // The current call, read by every thread's share.
    private int images;
    private int rows;
    private int heads;
    private int headDim;
    private int tokens;
    private int capacity;
    private float scale;
    private MemorySegment[] imageKeys = new MemorySegment[0];
    private MemorySegment[] imageValues = new MemorySegment[0];
    private float[] queries = new float[0]; // [images · rows, channels]
    private float[] outputs = new float[0]; // [images · rows, channels]

    PackedCrossAttention(DnnlPrimitiveCache cache, MemorySegment engine, OpenMpTeam team) {
        this.cache = cache;
        this.engine = engine;
        this.team = team;
    }

    /** One thread's scratch, used only by the thread whose number it has in the region. */
    private static final class ThreadScratch {
        float[] query = new float[0]; // [ROWS, pairs · 2]: a head's slice of each query row, zero-padded
        float[] scores = new float[0]; // [heads, ROWS, tokenBlocks · BLOCK]: probabilities, zero-padded
        final float[] block = new float[ROWS * BLOCK]; // one pairBlock's results
        final float[] lanes = new float[VectorMath.LANES];
    }

    /**
     * One image slot's packed keys or values: a copy of the F32 slot at {@code address} for {@code heads} heads of
     * {@code headDim} over {@code tokens} tokens; {@code stale} once the slot was written again.
     */
    private static final class PackedSlot {
        final long address;
        MemorySegment source; // the F32 slot, for its lifetime
        Arena arena;
        MemorySegment packed = MemorySegment.NULL;
        long heads;
        long headDim;
        long tokens;
        boolean stale = true;

        PackedSlot(long address) {
            this.address = address;
        }

        void free() {
            if (arena != null) {
                arena.close();
            }
        }
    }

    /**
     * Marks the packed copies of {@code images} image slots of {@code slotBytes} each, from {@code tensor}'s first
     * byte, as out of date: the backend just wrote those F32 slots.
     */
    void invalidate(MemorySegment tensor, long images, long slotBytes) {
        for (long image = 0; image < images; image++) {
            PackedSlot slot = find(tensor.address() + image * slotBytes);
            if (slot != null) {
                slot.stale = true;
            }
        }
    }

    /**
     * {@code out = softmax(scale · q·kᵀ) · v} per head for {@code images} images, each image's {@code rows}
     * consecutive query rows attending to its own first {@code tokens} keys and values, on up to {@code threads}
     * threads.
     *
     * @param q      F32 {@code [images · rows, heads · headDim]}
     * @param keysT  F32 {@code [images, heads · headDim, capacity]}
     * @param values F32 {@code [images, heads, capacity, headDim]}
     * @param out    F32 {@code [images · rows, heads · headDim]}
     */
    void run(MemorySegment stream, MemorySegment out, MemorySegment q, MemorySegment keysT, MemorySegment values,
            int images, int rows, int heads, int headDim, int tokens, int capacity, float scale, int threads) {
        this.images = images;
        this.rows = rows;
        this.heads = heads;
        this.headDim = headDim;
        this.tokens = tokens;
        this.capacity = capacity;
        this.scale = scale;
        int channels = heads * headDim;
        reserve(threads, images, rows * channels);
        long slotBytes = (long) channels * capacity * Float.BYTES;
        for (int image = 0; image < images; image++) {
            imageKeys[image] = packed(stream, keysT, image * slotBytes, slotBytes, true, threads);
            imageValues[image] = packed(stream, values, image * slotBytes, slotBytes, false, threads);
        }
        // Copied here: the caller's tensors may belong to an arena only this thread may read.
        int elements = images * rows * channels;
        MemorySegment.copy(q, F32, 0, queries, 0, elements);
        team.run(attendShare, threads);
        MemorySegment.copy(outputs, 0, out, F32, 0, elements);
    }

    private int pairs() {
        return (headDim + 1) / 2;
    }

    private int tokenBlocks() {
        return (tokens + BLOCK - 1) / BLOCK;
    }

    private int tokenPairs() {
        return (tokens + 1) / 2;
    }

    private int headDimBlocks() {
        return (headDim + BLOCK - 1) / BLOCK;
    }

    /** Bytes of one head's packed keys: {@code [tokenBlocks][pairs of head dimensions][BLOCK][2]}. */
    private long keyHeadBytes() {
        return (long) tokenBlocks() * pairs() * PAIR_BYTES;
    }

    /** Bytes of one head's packed values: {@code [headDimBlocks][pairs of tokens][BLOCK][2]}. */
    private long valueHeadBytes() {
        return (long) headDimBlocks() * tokenPairs() * PAIR_BYTES;
    }

    /**
     * Thread {@code thread}'s share of the images' heads, {@link #ROWS} query rows at a time: first every head's
     * scores and softmax, then every head's values. A thread's heads lie one after another in the packed copies, so
     * it reads its keys as one stream and then its values as another.
     */
    private void attendShare(int thread, int threads) {
        ThreadScratch s = threadScratch(thread);
        int items = images * heads;
        int start = items * thread / threads;
        int end = items * (thread + 1) / threads;
        int headScores = ROWS * scoreStride();
        // One pass for the whole share where the scratch holds it (sized for an even share of the team requested);
        // OpenMP may start fewer threads, whose shares then take several.
        int chunk = s.scores.length / headScores;
        for (int first = 0; first < rows; first += ROWS) {
            int count = Math.min(ROWS, rows - first);
            for (int from = start; from < end; from += chunk) {
                int to = Math.min(end, from + chunk);
                for (int item = from; item < to; item++) {
                    scoreHead(s, item / heads, item % heads, first, count, (item - from) * headScores);
                }
                for (int item = from; item < to; item++) {
                    weighValues(s, item / heads, item % heads, first, count, (item - from) * headScores);
                }
            }
        }
    }

    /** Columns of a head's score rows in the scratch: whole blocks, the padding zero. */
    private int scoreStride() {
        return tokenBlocks() * BLOCK;
    }

    /**
     * Probabilities of query rows {@code [first, first + count)} of {@code image} for {@code head} into
     * {@code s.scores} from {@code at}: {@link #ROWS} rows, those past {@code count} and past {@code tokens} zero.
     */
    private void scoreHead(ThreadScratch s, int image, int head, int first, int count, int at) {
        int pairs = pairs();
        int queryStride = pairs * 2;
        int scoreStride = scoreStride();
        Arrays.fill(s.query, 0f);
        for (int r = 0; r < count; r++) {
            System.arraycopy(queries, (image * rows + first + r) * heads * headDim + head * headDim, s.query,
                    r * queryStride, headDim);
        }
        long keys = head * keyHeadBytes();
        for (int block = 0; block < tokenBlocks(); block++) {
            pairBlock(imageKeys[image], keys + (long) block * pairs * PAIR_BYTES, pairs, s.query, 0, queryStride,
                    s.block);
            for (int r = 0; r < ROWS; r++) {
                System.arraycopy(s.block, r * BLOCK, s.scores, at + r * scoreStride + block * BLOCK, BLOCK);
            }
        }
        for (int r = 0; r < ROWS; r++) {
            int row = at + r * scoreStride;
            if (r < count) {
                VectorMath.softmax(s.scores, row, tokens, scale, s.lanes);
                Arrays.fill(s.scores, row + tokens, row + scoreStride, 0f);
            } else {
                Arrays.fill(s.scores, row, row + scoreStride, 0f);
            }
        }
    }

    /** The probabilities {@link #scoreHead} left at {@code at} times {@code head}'s values, into the outputs. */
    private void weighValues(ThreadScratch s, int image, int head, int first, int count, int at) {
        int tokenPairs = tokenPairs();
        int channels = heads * headDim;
        long values = head * valueHeadBytes();
        for (int block = 0; block * BLOCK < headDim; block++) {
            pairBlock(imageValues[image], values + (long) block * tokenPairs * PAIR_BYTES, tokenPairs, s.scores,
                    at, scoreStride(), s.block);
            int columns = Math.min(BLOCK, headDim - block * BLOCK);
            for (int r = 0; r < count; r++) {
                System.arraycopy(s.block, r * BLOCK, outputs,
                        (image * rows + first + r) * channels + head * headDim + block * BLOCK, columns);
            }
        }
    }

    /**
     * {@code out[r, c] = Σ_i x[xOffset + r · xStride + i] · w[i, c]} for {@link #ROWS} rows and the
     * {@link #BLOCK} columns of the packed block at {@code byteOffset} of {@code w}, over its {@code pairs} pairs of
     * input rows ({@code x} holds {@code 2 · pairs} values a row). The bf16 values become F32 by a shift (even rows,
     * the low halves) or a mask (odd rows). All vectors stay in this method: one passed to a method C2 does not
     * inline is boxed.
     */
    private static void pairBlock(MemorySegment w, long byteOffset, int pairs, float[] x, int xOffset, int xStride,
            float[] out) {
        int lanes = FLOATS.length();
        for (int chunk = 0; chunk < BLOCK; chunk += CHUNK) {
            FloatVector s00 = FloatVector.zero(FLOATS);
            FloatVector s01 = s00;
            FloatVector s02 = s00;
            FloatVector s03 = s00;
            FloatVector s10 = s00;
            FloatVector s11 = s00;
            FloatVector s12 = s00;
            FloatVector s13 = s00;
            FloatVector s20 = s00;
            FloatVector s21 = s00;
            FloatVector s22 = s00;
            FloatVector s23 = s00;
            long offset = byteOffset + (long) chunk * 2 * Short.BYTES;
            for (int pair = 0; pair < pairs; pair++, offset += PAIR_BYTES) {
                IntVector w0 = IntVector.fromMemorySegment(INTS, w, offset, LE);
                IntVector w1 = IntVector.fromMemorySegment(INTS, w, offset + lanes * 4L, LE);
                IntVector w2 = IntVector.fromMemorySegment(INTS, w, offset + lanes * 8L, LE);
                IntVector w3 = IntVector.fromMemorySegment(INTS, w, offset + lanes * 12L, LE);
                FloatVector even0 = w0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector even1 = w1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector even2 = w2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector even3 = w3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector odd0 = w0.and(0xFFFF_0000).reinterpretAsFloats();
                FloatVector odd1 = w1.and(0xFFFF_0000).reinterpretAsFloats();
                FloatVector odd2 = w2.and(0xFFFF_0000).reinterpretAsFloats();
                FloatVector odd3 = w3.and(0xFFFF_0000).reinterpretAsFloats();
                int i = xOffset + 2 * pair;
                FloatVector x0 = FloatVector.broadcast(FLOATS, x[i]);
                FloatVector y0 = FloatVector.broadcast(FLOATS, x[i + 1]);
                FloatVector x1 = FloatVector.broadcast(FLOATS, x[xStride + i]);
                FloatVector y1 = FloatVector.broadcast(FLOATS, x[xStride + i + 1]);
                FloatVector x2 = FloatVector.broadcast(FLOATS, x[2 * xStride + i]);
                FloatVector y2 = FloatVector.broadcast(FLOATS, x[2 * xStride + i + 1]);
                s00 = odd0.fma(y0, even0.fma(x0, s00));
                s01 = odd1.fma(y0, even1.fma(x0, s01));
                s02 = odd2.fma(y0, even2.fma(x0, s02));
                s03 = odd3.fma(y0, even3.fma(x0, s03));
                s10 = odd0.fma(y1, even0.fma(x1, s10));
                s11 = odd1.fma(y1, even1.fma(x1, s11));
                s12 = odd2.fma(y1, even2.fma(x1, s12));
                s13 = odd3.fma(y1, even3.fma(x1, s13));
                s20 = odd0.fma(y2, even0.fma(x2, s20));
                s21 = odd1.fma(y2, even1.fma(x2, s21));
                s22 = odd2.fma(y2, even2.fma(x2, s22));
                s23 = odd3.fma(y2, even3.fma(x2, s23));
            }
            s00.intoArray(out, chunk);
            s01.intoArray(out, chunk + lanes);
            s02.intoArray(out, chunk + 2 * lanes);
            s03.intoArray(out, chunk + 3 * lanes);
            s10.intoArray(out, BLOCK + chunk);
            s11.intoArray(out, BLOCK + chunk + lanes);
            s12.intoArray(out, BLOCK + chunk + 2 * lanes);
            s13.intoArray(out, BLOCK + chunk + 3 * lanes);
            s20.intoArray(out, 2 * BLOCK + chunk);
            s21.intoArray(out, 2 * BLOCK + chunk + lanes);
            s22.intoArray(out, 2 * BLOCK + chunk + 2 * lanes);
            s23.intoArray(out, 2 * BLOCK + chunk + 3 * lanes);
        }
    }

    /**
     * Packs {@code source}, one image slot of F32 keys {@code [heads · headDim, capacity]} or values
     * {@code [heads, capacity, headDim]}, into {@code packed}: one oneDNN reorder (F32 to bf16, to nearest even) per
     * region of whole or partial blocks and pairs, at most four, each between two strided views of the same 5-D
     * index space {@code [head][block][pair][column][row of the pair]}. Native code from the first image on: packing
     * in Java ran interpreted for the first images of a process (~250 ms for a base layer's first, ~24 ms for the
     * next ten), as it runs too rarely for C2 to compile it soon.
     */
    private void pack(MemorySegment stream, MemorySegment source, MemorySegment packed, boolean keys, int threads) {
        int columns = keys ? tokens : headDim; // of the product the block computes
        int pairedRows = keys ? headDim : tokens; // its input rows, in pairs
        long rowStride = keys ? capacity : headDim; // between two input rows in the F32 slot
        int pairs = (pairedRows + 1) / 2;
        int blocks = (columns + BLOCK - 1) / BLOCK;
        int[][] blockParts = {{0, columns / BLOCK, BLOCK}, {columns / BLOCK, 1, columns % BLOCK}};
        int[][] pairParts = {{0, pairedRows / 2, 2}, {pairedRows / 2, 1, pairedRows % 2}};
        for (int[] blockPart : blockParts) {
            for (int[] pairPart : pairParts) {
                if (blockPart[1] == 0 || blockPart[2] == 0 || pairPart[1] == 0 || pairPart[2] == 0) {
                    continue;
                }
                long[] dims = {heads, blockPart[1], pairPart[1], blockPart[2], pairPart[2]};
                long[] fromStrides = {(long) headDim * capacity, BLOCK, 2 * rowStride, 1, rowStride};
                long[] toStrides = {(long) blocks * pairs * BLOCK * 2, (long) pairs * BLOCK * 2, BLOCK * 2, 2, 1};
                long from = (2L * pairPart[0] * rowStride + (long) blockPart[0] * BLOCK) * Float.BYTES;
                long to = ((long) blockPart[0] * pairs + pairPart[0]) * BLOCK * 2 * Short.BYTES;
                var reorder = cache.get(List.of("packCrossAttention", Arrays.toString(dims),
                        Arrays.toString(fromStrides), Arrays.toString(toStrides), threads),
                        b -> b.primitive(Dnnl.reorderPrimitiveDescCreate(
                                b.desc(Dnnl.DATA_TYPE_F32, dims, fromStrides), engine,
                                b.desc(Dnnl.DATA_TYPE_BF16, dims, toStrides), engine, b.attr(null)),
                                Dnnl.ARG_FROM, Dnnl.ARG_TO));
                reorder.execute(stream, source.asSlice(from), packed.asSlice(to));
            }
        }
    }

    /**
     * The packed copy of the F32 slot of {@code slotBytes} at {@code offset} in {@code tensor}, packed now if it is
     * missing or stale. Slices the tensor only to pack: a decoder step allocates nothing here.
     */
    private MemorySegment packed(MemorySegment stream, MemorySegment tensor, long offset, long slotBytes, boolean keys,
            int threads) {
        long address = tensor.address() + offset;
        PackedSlot slot = find(address);
        if (slot == null) {
            slots.removeIf(PackedCrossAttention::freeIfDead);
            slot = new PackedSlot(address);
            slots.add(slot);
        }
        if (!slot.stale && slot.heads == heads && slot.headDim == headDim && slot.tokens == tokens
                && slot.source.scope().isAlive()) {
            return slot.packed;
        }
        long bytes = heads * (keys ? keyHeadBytes() : valueHeadBytes());
        if (slot.packed.byteSize() < bytes) {
            slot.free();
            slot.arena = Arena.ofShared();
            slot.packed = slot.arena.allocate(bytes, 64);
        } else if (slot.heads != heads || slot.headDim != headDim || slot.tokens != tokens) {
            slot.packed.fill((byte) 0); // the padding the reorders leave must be zero
        }
        slot.source = tensor.asSlice(offset, slotBytes);
        slot.heads = heads;
        slot.headDim = headDim;
        slot.tokens = tokens;
        slot.stale = false;
        pack(stream, slot.source, slot.packed, keys, threads);
        return slot.packed;
    }

    /** The slot at {@code address}, or null (a linear search: a model has two per layer and image). */
    private PackedSlot find(long address) {
        for (int i = 0; i < slots.size(); i++) {
            PackedSlot slot = slots.get(i);
            if (slot.address == address) {
                return slot;
            }
        }
        return null;
    }

    private static boolean freeIfDead(PackedSlot slot) {
        boolean dead = slot.source != null && !slot.source.scope().isAlive();
        if (dead) {
            slot.free();
        }
        return dead;
    }

    /** Sizes the per-call arrays and every thread's scratch for this call's geometry; grows, never shrinks. */
    private void reserve(int threads, int images, int imageElements) {
        if (imageKeys.length < images) {
            imageKeys = new MemorySegment[images];
            imageValues = new MemorySegment[images];
        }
        if (queries.length < images * imageElements) {
            queries = new float[images * imageElements];
            outputs = new float[images * imageElements];
        }
        if (scratch.length < threads) {
            scratch = Arrays.copyOf(scratch, threads);
        }
        int queryLength = ROWS * pairs() * 2;
        int scoreLength = ((images * heads + threads - 1) / threads) * ROWS * scoreStride();
        for (int t = 0; t < threads; t++) {
            if (scratch[t] == null) {
                scratch[t] = new ThreadScratch();
            }
            if (scratch[t].query.length != queryLength) {
                scratch[t].query = new float[queryLength];
            }
            if (scratch[t].scores.length < scoreLength) {
                scratch[t].scores = new float[scoreLength];
            }

        }
    }

    private ThreadScratch threadScratch(int thread) {
        if (thread >= scratch.length) {
            throw new IllegalStateException("OpenMP started thread " + thread + " of a region sized for "
                    + scratch.length);
        }
        return scratch[thread];
    }

    @Override
    public void close() {
        slots.forEach(PackedSlot::free);
        slots.clear();
    }
}
