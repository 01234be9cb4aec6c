package org.florence2j.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The integers of one decode step that change from token to token: the position of its first token, the position
 * ids and token ids it embeds, and the row each beam continues. They live in one I32 buffer on the backend's
 * device, written on the host and sent by {@link #upload} before the step's ops run, so that a step captured once as
 * a CUDA graph ({@link StepGraph}) reads this token's values from fixed addresses when it is replayed instead of
 * the values baked into its launches.
 *
 * <p>Ops read them either way: the host values ({@link #position()}, {@link #parents()}, {@link #causalMask()}),
 * or the device views ({@link #devicePosition()}, {@link #positionIds()}, {@link #tokenIds()},
 * {@link #parentRows()}). On a host backend both are the same memory and {@link #upload} does nothing.
 *
 * <p>Layout of the buffer (I32 elements, fixed for its lifetime so views of one request shape keep their
 * addresses): {@code [0]} the position; {@code [1, 1 + maxTokens)} position ids; then {@code maxRows} parent rows;
 * then {@code maxRows × maxTokens} token ids, row-major.
 */
public final class StepParameters {
    private static final ValueLayout.OfInt I32_LE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int maxRows;
    private final int maxTokens;
    private final int maxPositions;
    private final int positionOffset;
    private final int vocabulary;
    private final Tensor host; // I32 [length]
    private final Tensor device; // I32 [length] on the backend's device; host itself on a host backend
    private final AttentionMask[] causalMasks; // [maxPositions], made once so a step allocates nothing

    private int rows;
    private int tokens;
    private int position;
    private int[] parents; // [rows], the caller's array, for host backends' gatherRows
    private int[] firstRows; // [rows] or null, the caller's array, for host backends' gatherRows
    private Tensor devicePosition; // I32 [1]
    private Tensor positionIds; // I32 [1, tokens]
    private Tensor tokenIds; // I32 [rows, tokens]
    private Tensor parentRows; // I32 [rows]

    private StepParameters(int maxRows, int maxTokens, int maxPositions, int positionOffset, int vocabulary,
            Tensor host, Tensor device) {
        this.maxRows = maxRows;
        this.maxTokens = maxTokens;
        this.maxPositions = maxPositions;
        this.positionOffset = positionOffset;
        this.vocabulary = vocabulary;
        this.host = host;
        this.device = device;
        this.causalMasks = new AttentionMask[maxPositions];
        for (int p = 0; p < maxPositions; p++) {
            causalMasks[p] = AttentionMask.causal(p);
        }
        prepare(maxRows, maxTokens);
    }

    /**
     * Parameters for steps of up to {@code maxRows} rows × {@code maxTokens} tokens, in {@code arena}.
     *
     * @param maxPositions   positions a sequence may reach: {@code position + tokens ≤ maxPositions}
     * @param positionOffset added to a position to make its position id (BART's learned positions start at 2)
     * @param vocabulary     token ids must lie in {@code [0, vocabulary)}
     */
    public static StepParameters allocate(Backend backend, Arena arena, int maxRows, int maxTokens, int maxPositions,
            int positionOffset, int vocabulary) {
        if (maxRows < 1 || maxTokens < 1 || maxPositions < 1 || positionOffset < 0 || vocabulary < 1) {
            throw new IllegalArgumentException("step parameters need positive sizes: " + maxRows + " rows, "
                    + maxTokens + " tokens, " + maxPositions + " positions, offset " + positionOffset
                    + ", vocabulary " + vocabulary);
        }
        Shape shape = new Shape(Math.toIntExact(1L + maxTokens + maxRows + (long) maxRows * maxTokens));
        Tensor host = Tensor.allocateHost(DType.I32, shape, arena);
        Tensor device = backend.device().isHost() ? host : backend.allocate(DType.I32, shape, arena);
        return new StepParameters(maxRows, maxTokens, maxPositions, positionOffset, vocabulary, host, device);
    }

    /** Sets the step's shape, {@code rows × tokens}, for the following steps (a request); makes its views. */
    public void prepare(int rows, int tokens) {
        if (rows < 1 || rows > maxRows || tokens < 1 || tokens > maxTokens) {
            throw new IllegalArgumentException("decode step of " + rows + " rows × " + tokens + " tokens; the step "
                    + "parameters hold 1 to " + maxRows + " rows × 1 to " + maxTokens + " tokens");
        }
        this.rows = rows;
        this.tokens = tokens;
        this.position = 0;
        this.parents = null;
        this.firstRows = null;
        this.devicePosition = device.narrow(0, 1);
        this.positionIds = device.narrow(1, tokens).reshape(new Shape(1, tokens));
        this.parentRows = device.narrow(parentsOffset(), rows);
        this.tokenIds = device.narrow(tokensOffset(), rows * tokens).reshape(new Shape(rows, tokens));
    }

    /**
     * Sets the position of the step's first token and its tokens' position ids ({@code position + offset + t}).
     *
     * @throws IllegalArgumentException if {@code position < 0} or {@code position + tokens > maxPositions}
     */
    public void setPosition(int position) {
        if (position < 0 || position + tokens > maxPositions) {
            throw new IllegalArgumentException("decode position " + position + " with " + tokens + " tokens is"
                    + " outside the " + maxPositions + " positions of the step parameters");
        }
        this.position = position;
        MemorySegment memory = host.memory();
        memory.setAtIndex(I32_LE, 0, position);
        for (int t = 0; t < tokens; t++) {
            memory.setAtIndex(I32_LE, 1 + t, position + positionOffset + t);
        }
    }

    /**
     * Sets the id fed at {@code row}, token {@code t}.
     *
     * @throws IllegalArgumentException if the id lies outside the vocabulary (a captured step cannot check it
     *                                  on the device)
     */
    public void setToken(int row, int t, int id) {
        if (row < 0 || row >= rows || t < 0 || t >= tokens) {
            throw new IllegalArgumentException("token (" + row + ", " + t + ") outside the step's " + rows + " rows × "
                    + tokens + " tokens");
        }
        if (id < 0 || id >= vocabulary) {
            throw new IllegalArgumentException("token id " + id + " at row " + row + " outside the vocabulary [0, "
                    + vocabulary + ")");
        }
        host.memory().setAtIndex(I32_LE, tokensOffset() + (long) row * tokens + t, id);
    }

    /**
     * Sets the row each row continues (beam reordering): {@code parents[r]} for row {@code r}, every row's cache
     * copied from position 0. The array is kept (not copied) for {@link #parents()} until the next call.
     *
     * @throws IllegalArgumentException unless there is one parent per row, each a row of the step
     */
    public void setParents(int[] parents) {
        setParents(parents, null);
    }

    /**
     * {@link #setParents(int[])}, where row {@code r}'s cache already holds its parent's values before position
     * {@code firstRows[r]} (see {@link Backend#gatherRows(Tensor, Tensor, int[], int[], int)}). Host values only: a
     * replayed step copies from position 0. Both arrays are kept (not copied) until the next call.
     *
     * @param firstRows {@code null} (copy from position 0), or one non-negative position per row, checked against
     *                  the step's position by {@code gatherRows}
     * @throws IllegalArgumentException unless there is one parent per row, each a row of the step, and one
     *                                  non-negative first position per row
     */
    public void setParents(int[] parents, int[] firstRows) {
        boolean valid = parents.length == rows && (firstRows == null || firstRows.length == rows);
        for (int r = 0; r < parents.length && valid; r++) {
            valid = parents[r] >= 0 && parents[r] < rows && (firstRows == null || firstRows[r] >= 0);
        }
        if (!valid) {
            throw new IllegalArgumentException("parents " + Arrays.toString(parents) + " must name one of the "
                    + rows + " rows for each row" + (firstRows == null ? ""
                    : ", first positions " + Arrays.toString(firstRows) + " one non-negative position per row"));
        }
        this.parents = parents;
        this.firstRows = firstRows;
        MemorySegment memory = host.memory();
        for (int r = 0; r < rows; r++) {
            memory.setAtIndex(I32_LE, parentsOffset() + r, parents[r]);
        }
    }

    /**
     * Sends the host values to the device, queued before any op issued after this call (asynchronous on a GPU;
     * the host values may be overwritten as soon as it returns). Does nothing on a host backend.
     */
    public void upload(Backend backend) {
        if (device != host) {
            backend.write(device, host);
        }
    }

    /** The position of the step's first token (host value). */
    public int position() {
        return position;
    }

    /** Tokens per row of the step. */
    public int tokens() {
        return tokens;
    }

    /** Rows of the step. */
    public int rows() {
        return rows;
    }

    /** The parents last set (host values), {@code [rows]}; {@code null} before any. */
    public int[] parents() {
        return parents;
    }

    /** The first positions to copy last set with the parents (host values), {@code [rows]}; {@code null}: all. */
    public int[] firstRows() {
        return firstRows;
    }

    /** {@link AttentionMask#causal} at the current position, without allocating. */
    public AttentionMask causalMask() {
        return causalMasks[position];
    }

    /** The position, I32 {@code [1]} on the backend's device. */
    public Tensor devicePosition() {
        return devicePosition;
    }

    /** The position ids, I32 {@code [1, tokens]} on the backend's device. */
    public Tensor positionIds() {
        return positionIds;
    }

    /** The token ids, I32 {@code [rows, tokens]} on the backend's device. */
    public Tensor tokenIds() {
        return tokenIds;
    }

    /** The parent rows, I32 {@code [rows]} on the backend's device. */
    public Tensor parentRows() {
        return parentRows;
    }

    private int parentsOffset() {
        return 1 + maxTokens;
    }

    private int tokensOffset() {
        return 1 + maxTokens + maxRows;
    }
}
