package org.florence2j.model.text;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepParameters;
import org.florence2j.tensor.Tensor;

/**
 * The decoder's attention caches for one session, allocated once and reused by every request.
 *
 * <p>Self-attention: per layer, K and V {@code [rows, capacity, channels]}, appended one position per step. Beam
 * search reorders rows after each step; {@link #reorder} does it with {@link Backend#gatherRows} into a second
 * buffer (double buffering, since gather cannot work in place), and is skipped entirely when every row keeps its own
 * parent (e.g. greedy, or a step where the beams did not swap). A captured decode step does the same in two halves:
 * {@link #swap} on the host before the step, the copies ({@link #gatherFromPrevious}) inside it, since a replayed
 * step runs no Java.
 *
 * <p>A reorder copies only the positions where a row's buffer does not already hold its parent's values. Beams
 * share their history up to where they diverged, so that is usually a short tail, not every filled position: copying
 * them all cost 0.15 ms a base step at 10 positions and 1.4 ms at 256, more than the step itself for a long output.
 * The cache knows which positions match without comparing values: it records, per buffer, row and position, which
 * write the cell holds ({@link #recordWrites} gives each cell a step writes a new id, a copy carries the id along),
 * and two cells with the same id hold the same bits.
 *
 * <p>Cross-attention: per layer, K transposed {@code [images, channels, maxEncoderTokens]} and V head-major
 * {@code [images, heads, maxEncoderTokens, headDim]}, computed once per request from the encoder output, one row per
 * image — not per beam: the beams of an image share it through {@code Backend.attentionTransposedKeys}'
 * {@code kvBatch} broadcast. Both are laid out for the matmuls every decode step runs on them, which then read each
 * head's keys and values in place: token-major keys had to be transposed on every step (CPU: half the
 * cross-attention time), token-major values copied out per head (a third of what remained).
 */
public final class KvCache {
    private final int layers;
    private final int channels;
    private final int heads;
    private final int maxRows;
    private final int capacity;
    private final int maxImages;
    private final int maxEncoderTokens;
    private final Scratch[] selfKeys; // [2 · layers], buffer p of layer l at 2l + p
    private final Scratch[] selfValues; // [2 · layers]
    private final Scratch[] crossKeys; // [layers], transposed
    private final Scratch[] crossValues; // [layers], head-major
    private final Scratch crossStaging; // one image's keys or values [maxEncoderTokens, channels] before re-laying
    private final long[][] written; // [2][maxRows · capacity]: per buffer, the id of the write a cell holds; -1 none
    private long writes; // ids handed out so far

    private int rows;
    private int live;
    private Tensor[] selfKeyViews; // [2 · layers] of [rows, capacity, channels]
    private Tensor[] selfValueViews; // [2 · layers]
    private Tensor[][] crossKeyViews; // [layers][groups] of [groupImages, channels, maxEncoderTokens]
    private Tensor[][] crossValueViews; // [layers][groups] of [groupImages, heads, maxEncoderTokens, headDim]
    private int[] groupTokens; // [groups]
    private int[] firstRows; // [rows]: per row, the first position the last reorder copies

    private KvCache(int layers, int channels, int heads, int maxRows, int capacity, int maxImages,
            int maxEncoderTokens, ScratchBlock block) {
        if (heads <= 0 || channels % heads != 0) {
            throw new IllegalArgumentException("KvCache: " + heads + " heads do not divide " + channels + " channels");
        }
        this.layers = layers;
        this.channels = channels;
        this.heads = heads;
        this.maxRows = maxRows;
        this.capacity = capacity;
        this.maxImages = maxImages;
        this.maxEncoderTokens = maxEncoderTokens;
        this.selfKeys = new Scratch[2 * layers];
        this.selfValues = new Scratch[2 * layers];
        this.crossKeys = new Scratch[layers];
        this.crossValues = new Scratch[layers];
        long selfElements = (long) maxRows * capacity * channels;
        long crossElements = (long) maxImages * maxEncoderTokens * channels;
        for (int i = 0; i < 2 * layers; i++) {
            selfKeys[i] = block.take(selfElements);
            selfValues[i] = block.take(selfElements);
        }
        for (int l = 0; l < layers; l++) {
            crossKeys[l] = block.take(crossElements);
            crossValues[l] = block.take(crossElements);
        }
        this.crossStaging = block.take((long) maxEncoderTokens * channels);
        this.written = new long[2][Math.multiplyExact(maxRows, capacity)];
    }

    /**
     * Allocates caches of {@code layers} layers of {@code channels} channels in {@code heads} heads for up to
     * {@code maxRows} decoder rows (images × beams) of up to {@code capacity} positions, and up to
     * {@code maxImages} encoder outputs of up to {@code maxEncoderTokens} tokens.
     */
    public static KvCache allocate(Backend backend, Arena arena, int layers, int channels, int heads, int maxRows,
            int capacity, int maxImages, int maxEncoderTokens) {
        ScratchBlock block = ScratchBlock.allocate(backend, arena,
                scratchElements(layers, channels, maxRows, capacity, maxImages, maxEncoderTokens));
        return allocate(block, layers, channels, heads, maxRows, capacity, maxImages, maxEncoderTokens);
    }

    /** {@link #allocate(Backend, Arena, int, int, int, int, int, int, int)} taking the caches from {@code block}. */
    public static KvCache allocate(ScratchBlock block, int layers, int channels, int heads, int maxRows,
            int capacity, int maxImages, int maxEncoderTokens) {
        return new KvCache(layers, channels, heads, maxRows, capacity, maxImages, maxEncoderTokens, block);
    }

    /** The F32 elements {@link #allocate} takes for these limits. */
    public static long scratchElements(int layers, int channels, int maxRows, int capacity, int maxImages,
            int maxEncoderTokens) {
        long selfElements = (long) maxRows * capacity * channels;
        long crossElements = (long) maxImages * maxEncoderTokens * channels;
        return 4L * layers * selfElements + 2L * layers * crossElements + (long) maxEncoderTokens * channels;
    }

    /** Sets up the views of one request: {@code rows} decoder rows, the images' encoder lengths by group. */
    public void prepare(int rows, List<CrossGroup> groups) {
        if (rows > maxRows) {
            throw new IllegalArgumentException("KvCache: " + rows + " rows exceed the capacity of " + maxRows);
        }
        this.rows = rows;
        this.live = 0;
        this.firstRows = new int[rows];
        Arrays.fill(written[0], -1);
        Arrays.fill(written[1], -1);
        selfKeyViews = new Tensor[2 * layers];
        selfValueViews = new Tensor[2 * layers];
        for (int i = 0; i < 2 * layers; i++) {
            selfKeyViews[i] = selfKeys[i].view(rows, capacity, channels);
            selfValueViews[i] = selfValues[i].view(rows, capacity, channels);
        }
        crossKeyViews = new Tensor[layers][groups.size()];
        crossValueViews = new Tensor[layers][groups.size()];
        groupTokens = new int[groups.size()];
        for (int g = 0; g < groups.size(); g++) {
            CrossGroup group = groups.get(g);
            if (group.firstImage() + group.images() > maxImages || group.encoderTokens() > maxEncoderTokens) {
                throw new IllegalArgumentException("KvCache: " + group + " exceeds " + maxImages + " images of "
                        + maxEncoderTokens + " encoder tokens");
            }
            groupTokens[g] = group.encoderTokens();
            long first = (long) group.firstImage() * maxEncoderTokens * channels;
            for (int l = 0; l < layers; l++) {
                crossKeyViews[l][g] = crossKeys[l].slice(first, group.images(), channels, maxEncoderTokens);
                crossValueViews[l][g] = crossValues[l].slice(first, group.images(), heads, maxEncoderTokens,
                        channels / heads);
            }
        }
    }

    /** The live self-attention keys of {@code layer}: {@code [rows, capacity, channels]}. */
    Tensor selfKey(int layer) {
        return selfKeyViews[2 * layer + live];
    }

    /** The live self-attention values of {@code layer}: {@code [rows, capacity, channels]}. */
    Tensor selfValue(int layer) {
        return selfValueViews[2 * layer + live];
    }

    /** Cross-attention keys of {@code layer} for group {@code g}, transposed: {@code [groupImages, C, maxTokens]}. */
    Tensor crossKeysT(int layer, int g) {
        return crossKeyViews[layer][g];
    }

    /** Cross-attention values of {@code layer} for group {@code g}, head-major: {@code [groupImages, H, T, D]}. */
    Tensor crossValue(int layer, int g) {
        return crossValueViews[layer][g];
    }

    /** Valid encoder rows of group {@code g}. */
    int groupTokens(int g) {
        return groupTokens[g];
    }

    int groups() {
        return groupTokens.length;
    }

    /**
     * Where an image's cross K or V of one layer is computed before it is laid out into {@link #crossKeysTOf} or
     * {@link #crossValuesOf}: {@code [1, tokens, C]}.
     */
    Tensor crossStaging(int tokens) {
        return crossStaging.view(1, tokens, channels);
    }

    /** Where {@code image}'s transposed cross K of {@code layer} is kept: {@code [1, channels, maxEncoderTokens]}. */
    Tensor crossKeysTOf(int layer, int image) {
        return crossKeys[layer].slice((long) image * maxEncoderTokens * channels, 1, channels, maxEncoderTokens);
    }

    /** Where {@code image}'s head-major cross V of {@code layer} is kept: {@code [1, heads, maxEncoderTokens, D]}. */
    Tensor crossValuesOf(int layer, int image) {
        return crossValues[layer].slice((long) image * maxEncoderTokens * channels, 1, heads, maxEncoderTokens,
                channels / heads);
    }

    /** Positions per row this cache holds. */
    public int capacity() {
        return capacity;
    }

    /**
     * Makes row {@code r} continue row {@code parents[r]}'s history: makes the other buffer live and copies into it
     * the first {@code filledTokens} positions of every layer's self K/V, those it does not hold yet. Does nothing
     * when {@code parents} is the identity; cross K/V never move (they are per image, and beams stay within their
     * image).
     *
     * @param parents {@code [rows]} source row of each row
     */
    public void reorder(Backend backend, int[] parents, int filledTokens) {
        if (!moves(parents, filledTokens)) {
            return;
        }
        int[] first = swap(parents, filledTokens);
        int previous = 1 - live;
        for (int l = 0; l < layers; l++) {
            backend.gatherRows(selfKeyViews[2 * l + live], selfKeyViews[2 * l + previous], parents, first,
                    filledTokens);
            backend.gatherRows(selfValueViews[2 * l + live], selfValueViews[2 * l + previous], parents, first,
                    filledTokens);
        }
    }

    /**
     * Records that the step about to run writes positions {@code position … position + tokens - 1} of every row of
     * the live buffer (its self K/V), so that later reorders know those cells hold new values.
     */
    public void recordWrites(int position, int tokens) {
        if (position < 0 || tokens < 0 || position + tokens > capacity) {
            throw new IllegalArgumentException("KvCache: positions " + position + " to " + (position + tokens - 1)
                    + " outside the capacity of " + capacity);
        }
        long[] cells = written[live];
        for (int r = 0; r < rows; r++) {
            for (int t = position; t < position + tokens; t++) {
                cells[r * capacity + t] = writes++;
            }
        }
    }

    /** Whether {@link #reorder} with these arguments moves anything: a row changes parent, and rows hold data. */
    public boolean moves(int[] parents, int filledTokens) {
        boolean identity = true;
        for (int r = 0; r < rows && identity; r++) {
            identity = parents[r] == r;
        }
        return !identity && filledTokens > 0;
    }

    /**
     * Makes the other self-attention buffer live without copying: the first half of a reorder by {@code parents} of
     * the first {@code filledTokens} positions, done on the host before a step whose ops {@link #gatherFromPrevious}
     * (given these parents and the returned first rows in its {@link StepParameters}).
     *
     * @return per row, the first position the copies must fill (before it, the row already holds its parent's
     *         values); the cache's array, valid until the next reorder
     */
    public int[] swap(int[] parents, int filledTokens) {
        boolean valid = parents.length == rows && filledTokens >= 0 && filledTokens <= capacity;
        for (int r = 0; valid && r < rows; r++) {
            valid = parents[r] >= 0 && parents[r] < rows;
        }
        if (!valid) {
            throw new IllegalArgumentException("KvCache: a reorder of " + rows + " rows needs one of them as the"
                    + " parent of each and at most " + capacity + " positions: parents " + Arrays.toString(parents)
                    + ", " + filledTokens + " positions");
        }
        live = 1 - live;
        long[] target = written[live];
        long[] source = written[1 - live];
        for (int r = 0; r < rows; r++) {
            int to = r * capacity;
            int from = parents[r] * capacity;
            int first = 0;
            while (first < filledTokens && target[to + first] == source[from + first] && target[to + first] >= 0) {
                first++;
            }
            System.arraycopy(source, from + first, target, to + first, filledTokens - first);
            firstRows[r] = first;
        }
        return firstRows;
    }

    /** Which of the two self-attention buffers is live (0 or 1); a captured step reads and writes that one. */
    public int live() {
        return live;
    }

    /**
     * The copies of a reorder after {@link #swap}: every layer's self K/V rows from the previous buffer into the live
     * one, row {@code r} from row {@code step.parents()[r]}, positions {@code step.firstRows()[r]} up to
     * {@code step.position()}, as {@link Backend#gatherRows(Tensor, Tensor, StepParameters)} reads them.
     */
    public void gatherFromPrevious(Backend backend, StepParameters step) {
        int previous = 1 - live;
        for (int l = 0; l < layers; l++) {
            backend.gatherRows(selfKeyViews[2 * l + live], selfKeyViews[2 * l + previous], step);
            backend.gatherRows(selfValueViews[2 * l + live], selfValueViews[2 * l + previous], step);
        }
    }
}
