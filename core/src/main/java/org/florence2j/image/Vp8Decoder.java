package org.florence2j.image;

import java.util.Arrays;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;

/**
 * Decodes the macroblocks of a VP8 key frame (RFC 6386 sections 11 to 15) into Y, U and V planes, as libwebp's
 * decoder does ({@code src/dec/vp8_dec.c}, {@code tree_dec.c}, {@code frame_dec.c}): row by row, the macroblock
 * headers from the first partition, then each macroblock's coefficients from its row's token partition, its intra
 * prediction and inverse transforms, and once the row is complete the loop filter across its edges.
 *
 * <p>Prediction reads the unfiltered samples around a macroblock, as in libwebp: each macroblock is reconstructed in
 * a small work buffer that keeps its left neighbour's right columns, and the bottom row of each macroblock row is
 * kept aside before the filter changes it. The planes cover whole macroblocks; a frame refused by libwebp for running
 * past the end of a partition is refused here, checked where libwebp checks.
 */
final class Vp8Decoder {
    /** The decoded planes: 4:2:0, each padded to whole macroblocks; only {@code width × height} luma is picture. */
    record Planes(int width, int height, byte[] y, int yStride, byte[] u, byte[] v, int uvStride) {}

    private static final int STRIDE = Vp8Intra.STRIDE;
    /** Where the work buffer holds the macroblock's luma: a row of samples above it and 8 columns to its left. */
    private static final int Y_AT = STRIDE + 8;
    /** Where it holds the chroma blocks, 8 × 8 each, also with a row above and columns to the left. */
    private static final int U_AT = Y_AT + 16 * STRIDE + STRIDE;
    private static final int V_AT = U_AT + 16;
    private static final int WORK_SIZE = STRIDE * (1 + 16 + 1 + 8);

    /** Block types of the coefficient probabilities (section 13.3). */
    private static final int LUMA_AFTER_Y2 = 0;
    private static final int Y2 = 1;
    private static final int CHROMA = 2;
    private static final int LUMA_WITH_DC = 3;

    /** Per macroblock, the 16 luma, 4 U and 4 V blocks of 16 coefficients each. */
    private static final int BLOCKS = 24;
    /** Index of the Y2 flag in a macroblock's non-zero contexts, after 4 luma, 2 U and 2 V. */
    private static final int Y2_CONTEXT = 8;
    private static final int CONTEXTS_PER_MACROBLOCK = 9;

    private final Vp8FrameHeader header;
    private final int columns;
    private final int rows;
    private final byte[] y;
    private final byte[] u;
    private final byte[] v;
    private final int yStride;
    private final int uvStride;

    private final int[] work = new int[WORK_SIZE];
    /** The unfiltered bottom row of the macroblock row above, per plane: what prediction reads above. */
    private final int[] topY;
    private final int[] topU;
    private final int[] topV;

    /** Subblock-mode contexts: the bottom modes of the macroblocks above, the right modes of the one to the left. */
    private final int[] modesAbove;
    private final int[] modesLeft = new int[4];
    /**
     * Non-zero contexts: whether the blocks above (4 luma columns, 2 U, 2 V, the Y2 block, per macroblock) and to the
     * left (4 luma rows, 2 U, 2 V, Y2) have coefficients.
     */
    private final int[] nonZeroAbove;
    private final int[] nonZeroLeft = new int[CONTEXTS_PER_MACROBLOCK];

    /** The headers of the current row's macroblocks (section 19.3). */
    private final int[] segment;
    private final boolean[] skip;
    private final boolean[] subblocks;
    private final int[] lumaMode;
    private final int[] subblockModes;
    private final int[] chromaMode;
    /** Whether the loop filter crosses the macroblock's inner edges: it has subblocks or coefficients. */
    private final boolean[] filterInner;

    /** The current macroblock's dequantized coefficients, [block][16] in raster order, and its Y2 block. */
    private final short[] coefficients = new short[BLOCKS * 16];
    private final short[] y2 = new short[16];
    /**
     * Per block, what its inverse transform must do, as libwebp codes it: 0 nothing, 1 only a DC, 2 or 3 a full
     * transform (the last coefficient read is past the DC).
     */
    private final int[] blockCodes = new int[BLOCKS];
    /** The transforms' and diagonal predictors' 16 ints of scratch, kept so that no block allocates. */
    private final int[] scratch = new int[16];

    Vp8Decoder(Vp8FrameHeader header) {
        this.header = header;
        columns = header.macroblockColumns;
        rows = header.macroblockRows;
        yStride = columns * 16;
        uvStride = columns * 8;
        y = new byte[yStride * rows * 16];
        u = new byte[uvStride * rows * 8];
        v = new byte[uvStride * rows * 8];
        topY = new int[yStride];
        topU = new int[uvStride];
        topV = new int[uvStride];
        modesAbove = new int[columns * 4];
        nonZeroAbove = new int[columns * CONTEXTS_PER_MACROBLOCK];
        segment = new int[columns];
        skip = new boolean[columns];
        subblocks = new boolean[columns];
        lumaMode = new int[columns];
        subblockModes = new int[columns * 16];
        chromaMode = new int[columns];
        filterInner = new boolean[columns];
    }

    /**
     * Decodes the frame, asking {@code stopRequested} before each macroblock row whether to give up.
     *
     * @throws IIOException when a partition ends before the frame does, or when asked to stop
     */
    Planes decode(BooleanSupplier stopRequested) throws IIOException {
        for (int mbY = 0; mbY < rows; mbY++) {
            if (stopRequested.getAsBoolean()) {
                throw new IIOException("the decode was stopped");
            }
            readMacroblockHeaders();
            if (header.modes.atEnd()) {
                throw new IIOException("the VP8 first partition ends before macroblock row " + mbY + " does");
            }
            Vp8BoolDecoder tokens = header.tokens[mbY % header.tokens.length];
            Arrays.fill(nonZeroLeft, 0);
            startRow(mbY);
            for (int mbX = 0; mbX < columns; mbX++) {
                boolean hasCoefficients = skip[mbX] ? clearCoefficients(mbX) : readCoefficients(mbX, tokens);
                if (tokens.atEnd()) {
                    throw new IIOException("the VP8 token partition ends before macroblock (" + mbX + ", " + mbY
                            + ") does");
                }
                filterInner[mbX] = subblocks[mbX] || hasCoefficients;
                reconstruct(mbX, mbY);
            }
            filterRow(mbY);
        }
        return new Planes(header.width, header.height, y, yStride, u, v, uvStride);
    }

    /** Reads the headers of a row of macroblocks: segment, skip flag and prediction modes (section 19.3). */
    private void readMacroblockHeaders() {
        Vp8BoolDecoder in = header.modes;
        Arrays.fill(modesLeft, Vp8Intra.DC);
        for (int mbX = 0; mbX < columns; mbX++) {
            if (header.segmentMapUpdated) {
                int[] probs = header.segmentProbs;
                segment[mbX] = in.readBit(probs[0]) == 0 ? in.readBit(probs[1]) : 2 + in.readBit(probs[2]);
            } else {
                segment[mbX] = 0;
            }
            skip[mbX] = header.skipFlagCoded && in.readBit(header.skipProb) != 0;
            subblocks[mbX] = in.readBit(145) == 0;
            if (!subblocks[mbX]) {
                int mode = in.readBit(156) != 0
                        ? (in.readBit(128) != 0 ? Vp8Intra.TM : Vp8Intra.HE)
                        : (in.readBit(163) != 0 ? Vp8Intra.VE : Vp8Intra.DC);
                lumaMode[mbX] = mode;
                // A whole-block mode stands for the subblock mode of the same number in its neighbours' contexts.
                Arrays.fill(modesAbove, mbX * 4, mbX * 4 + 4, mode);
                Arrays.fill(modesLeft, mode);
            } else {
                for (int row = 0; row < 4; row++) {
                    for (int column = 0; column < 4; column++) {
                        int[] probs = Vp8Tables.SUBBLOCK_MODE_PROBS[modesAbove[mbX * 4 + column]][modesLeft[row]];
                        int mode = readSubblockMode(in, probs);
                        modesAbove[mbX * 4 + column] = mode;
                        modesLeft[row] = mode;
                        subblockModes[mbX * 16 + row * 4 + column] = mode;
                    }
                }
            }
            chromaMode[mbX] = in.readBit(142) == 0 ? Vp8Intra.DC
                    : in.readBit(114) == 0 ? Vp8Intra.VE
                    : in.readBit(183) != 0 ? Vp8Intra.TM : Vp8Intra.HE;
        }
    }

    /** The subblock-mode tree of section 11.2 ({@code bmode_tree}). */
    private static int readSubblockMode(Vp8BoolDecoder in, int[] probs) {
        if (in.readBit(probs[0]) == 0) {
            return Vp8Intra.DC;
        }
        if (in.readBit(probs[1]) == 0) {
            return Vp8Intra.TM;
        }
        if (in.readBit(probs[2]) == 0) {
            return Vp8Intra.VE;
        }
        if (in.readBit(probs[3]) == 0) {
            if (in.readBit(probs[4]) == 0) {
                return Vp8Intra.HE;
            }
            return in.readBit(probs[5]) == 0 ? Vp8Intra.RD : Vp8Intra.VR;
        }
        if (in.readBit(probs[6]) == 0) {
            return Vp8Intra.LD;
        }
        if (in.readBit(probs[7]) == 0) {
            return Vp8Intra.VL;
        }
        return in.readBit(probs[8]) == 0 ? Vp8Intra.HD : Vp8Intra.HU;
    }

    /**
     * A macroblock flagged as having no coefficients: its blocks count as empty for their neighbours' contexts
     * (the Y2 context only if it has a Y2 block, as libwebp does). Returns false: no coefficients.
     */
    private boolean clearCoefficients(int mbX) {
        int above = mbX * CONTEXTS_PER_MACROBLOCK;
        Arrays.fill(nonZeroAbove, above, above + Y2_CONTEXT, 0);
        Arrays.fill(nonZeroLeft, 0, Y2_CONTEXT, 0);
        if (!subblocks[mbX]) {
            nonZeroAbove[above + Y2_CONTEXT] = 0;
            nonZeroLeft[Y2_CONTEXT] = 0;
        }
        Arrays.fill(blockCodes, 0);
        return false;
    }

    /**
     * Reads and dequantizes a macroblock's coefficients (section 13), updating the non-zero contexts. Returns whether
     * any block has coefficients, which libwebp decides from what was read, not from the values.
     */
    private boolean readCoefficients(int mbX, Vp8BoolDecoder in) {
        Arrays.fill(coefficients, (short) 0);
        int[] quantizer = header.quantizers[segment[mbX]];
        int above = mbX * CONTEXTS_PER_MACROBLOCK;
        int first;
        int lumaType;
        if (!subblocks[mbX]) {
            Arrays.fill(y2, (short) 0);
            int context = nonZeroAbove[above + Y2_CONTEXT] + nonZeroLeft[Y2_CONTEXT];
            int count = readBlock(in, Y2, context, quantizer[Vp8FrameHeader.Y2_DC],
                    quantizer[Vp8FrameHeader.Y2_AC], 0, y2, 0);
            int nonZero = count > 0 ? 1 : 0;
            nonZeroAbove[above + Y2_CONTEXT] = nonZero;
            nonZeroLeft[Y2_CONTEXT] = nonZero;
            if (count > 1) {
                Vp8Transform.inverseWalshHadamard(y2, coefficients, scratch);
            } else {
                // Only the Y2 DC: the transform gives every block the same DC, rounded as the full one rounds it.
                short dc = (short) ((y2[0] + 3) >> 3);
                for (int block = 0; block < 16; block++) {
                    coefficients[block * 16] = dc;
                }
            }
            first = 1;
            lumaType = LUMA_AFTER_Y2;
        } else {
            first = 0;
            lumaType = LUMA_WITH_DC;
        }
        int anyCode = 0;
        for (int block = 0; block < 16; block++) {
            int row = block >> 2;
            int column = block & 3;
            int context = nonZeroAbove[above + column] + nonZeroLeft[row];
            int count = readBlock(in, lumaType, context, quantizer[Vp8FrameHeader.Y1_DC],
                    quantizer[Vp8FrameHeader.Y1_AC], first, coefficients, block * 16);
            int nonZero = count > first ? 1 : 0;
            nonZeroAbove[above + column] = nonZero;
            nonZeroLeft[row] = nonZero;
            anyCode |= blockCodes[block] = blockCode(count, coefficients[block * 16]);
        }
        for (int block = 16; block < BLOCKS; block++) {
            int plane = (block - 16) >> 2; // 0 U, 1 V
            int row = (block - 16) >> 1 & 1;
            int column = (block - 16) & 1;
            int aboveAt = above + 4 + 2 * plane + column;
            int leftAt = 4 + 2 * plane + row;
            int context = nonZeroAbove[aboveAt] + nonZeroLeft[leftAt];
            int count = readBlock(in, CHROMA, context, quantizer[Vp8FrameHeader.UV_DC],
                    quantizer[Vp8FrameHeader.UV_AC], 0, coefficients, block * 16);
            int nonZero = count > 0 ? 1 : 0;
            nonZeroAbove[aboveAt] = nonZero;
            nonZeroLeft[leftAt] = nonZero;
            anyCode |= blockCodes[block] = blockCode(count, coefficients[block * 16]);
        }
        return anyCode != 0;
    }

    /** libwebp's {@code NzCodeBits} for one block. */
    private static int blockCode(int count, short dc) {
        return count > 3 ? 3 : count > 1 ? 2 : dc != 0 ? 1 : 0;
    }

    /**
     * Reads the tokens of one block from coefficient {@code n} on (section 13.2) into {@code out[at, at + 16)},
     * dequantized and truncated to 16 bits as libwebp stores them. Returns the position after the last token that
     * was not end-of-block: after the last non-zero coefficient, or 16 after a run of zeros to the end.
     */
    private int readBlock(Vp8BoolDecoder in, int type, int context, int dcQuant, int acQuant, int n, short[] out,
            int at) {
        int[] probs = header.coefficientProbs;
        int typeAt = type * Vp8FrameHeader.TYPE_STRIDE;
        int p = typeAt + Vp8Tables.COEFFICIENT_BAND[n] * Vp8FrameHeader.BAND_STRIDE + context * Vp8Tables.NODES;
        for (; n < 16; n++) {
            if (in.readBit(probs[p]) == 0) {
                return n; // end of block
            }
            while (in.readBit(probs[p + 1]) == 0) { // a zero; the next token cannot be end-of-block
                if (++n == 16) {
                    return 16;
                }
                p = typeAt + Vp8Tables.COEFFICIENT_BAND[n] * Vp8FrameHeader.BAND_STRIDE;
            }
            int nextBand = typeAt + Vp8Tables.COEFFICIENT_BAND[n + 1] * Vp8FrameHeader.BAND_STRIDE;
            int magnitude;
            if (in.readBit(probs[p + 2]) == 0) {
                magnitude = 1;
                p = nextBand + Vp8Tables.NODES; // context 1: the last coefficient was ±1
            } else {
                magnitude = readLargeMagnitude(in, probs, p);
                p = nextBand + 2 * Vp8Tables.NODES; // context 2: it was larger
            }
            out[at + Vp8Tables.ZIGZAG[n]] = (short) (in.readSigned(magnitude) * (n > 0 ? acQuant : dcQuant));
        }
        return 16;
    }

    /** A coefficient magnitude of 2 or more: the rest of the token tree and the categories' extra bits. */
    private static int readLargeMagnitude(Vp8BoolDecoder in, int[] probs, int p) {
        if (in.readBit(probs[p + 3]) == 0) {
            if (in.readBit(probs[p + 4]) == 0) {
                return 2;
            }
            return 3 + in.readBit(probs[p + 5]);
        }
        if (in.readBit(probs[p + 6]) == 0) {
            if (in.readBit(probs[p + 7]) == 0) {
                return 5 + in.readBit(159); // DCT_CAT1: 5..6
            }
            return 7 + 2 * in.readBit(165) + in.readBit(145); // DCT_CAT2: 7..10
        }
        int high = in.readBit(probs[p + 8]);
        int category = 2 * high + in.readBit(probs[p + 9 + high]); // DCT_CAT3..DCT_CAT6
        int extra = 0;
        for (int prob : Vp8Tables.CATEGORY_PROBS[category]) {
            extra = 2 * extra + in.readBit(prob);
        }
        return 3 + (8 << category) + extra;
    }

    /**
     * Prepares the work buffer for a row: the column left of the first macroblock is 129 and, in the first row,
     * the row above is 127 (corner included); below the first row the corner left of the first macroblock is 129.
     */
    private void startRow(int mbY) {
        for (int row = 0; row < 16; row++) {
            work[Y_AT + row * STRIDE - 1] = 129;
        }
        for (int row = 0; row < 8; row++) {
            work[U_AT + row * STRIDE - 1] = 129;
            work[V_AT + row * STRIDE - 1] = 129;
        }
        if (mbY > 0) {
            work[Y_AT - STRIDE - 1] = 129;
            work[U_AT - STRIDE - 1] = 129;
            work[V_AT - STRIDE - 1] = 129;
        } else {
            // The row above, and the 4 samples above-right that subblocks of the right column read.
            Arrays.fill(work, Y_AT - STRIDE - 1, Y_AT - STRIDE + 16 + 4, 127);
            Arrays.fill(work, U_AT - STRIDE - 1, U_AT - STRIDE + 8, 127);
            Arrays.fill(work, V_AT - STRIDE - 1, V_AT - STRIDE + 8, 127);
        }
    }

    /** Predicts the macroblock, adds its residual and copies it into the planes (libwebp's {@code ReconstructRow}). */
    private void reconstruct(int mbX, int mbY) {
        if (mbX > 0) {
            // The previous macroblock's right columns (and the row above them) become this one's left neighbours.
            for (int row = -1; row < 16; row++) {
                System.arraycopy(work, Y_AT + row * STRIDE + 12, work, Y_AT + row * STRIDE - 4, 4);
            }
            for (int row = -1; row < 8; row++) {
                System.arraycopy(work, U_AT + row * STRIDE + 4, work, U_AT + row * STRIDE - 4, 4);
                System.arraycopy(work, V_AT + row * STRIDE + 4, work, V_AT + row * STRIDE - 4, 4);
            }
        }
        if (mbY > 0) {
            System.arraycopy(topY, mbX * 16, work, Y_AT - STRIDE, 16);
            System.arraycopy(topU, mbX * 8, work, U_AT - STRIDE, 8);
            System.arraycopy(topV, mbX * 8, work, V_AT - STRIDE, 8);
        }
        if (subblocks[mbX]) {
            int aboveRight = Y_AT - STRIDE + 16;
            if (mbY > 0) {
                if (mbX == columns - 1) {
                    Arrays.fill(work, aboveRight, aboveRight + 4, topY[mbX * 16 + 15]);
                } else {
                    System.arraycopy(topY, (mbX + 1) * 16, work, aboveRight, 4);
                }
            }
            // Subblocks of the right column below the first read the macroblock's above-right samples too.
            for (int row = 4; row < 16; row += 4) {
                System.arraycopy(work, aboveRight, work, aboveRight + row * STRIDE, 4);
            }
            for (int block = 0; block < 16; block++) {
                int at = Y_AT + (block >> 2) * 4 * STRIDE + (block & 3) * 4;
                Vp8Intra.predictSubblock(subblockModes[mbX * 16 + block], work, at, scratch);
                addResidual(block, at);
            }
        } else {
            Vp8Intra.predictBlock(Vp8Intra.edgeMode(lumaMode[mbX], mbX, mbY), 16, work, Y_AT);
            for (int block = 0; block < 16; block++) {
                addResidual(block, Y_AT + (block >> 2) * 4 * STRIDE + (block & 3) * 4);
            }
        }
        int chroma = Vp8Intra.edgeMode(chromaMode[mbX], mbX, mbY);
        Vp8Intra.predictBlock(chroma, 8, work, U_AT);
        Vp8Intra.predictBlock(chroma, 8, work, V_AT);
        addChromaResidual(16, U_AT);
        addChromaResidual(20, V_AT);

        for (int column = 0; column < 16; column++) {
            topY[mbX * 16 + column] = work[Y_AT + 15 * STRIDE + column];
        }
        for (int column = 0; column < 8; column++) {
            topU[mbX * 8 + column] = work[U_AT + 7 * STRIDE + column];
            topV[mbX * 8 + column] = work[V_AT + 7 * STRIDE + column];
        }
        copyOut(Y_AT, 16, y, (mbY * 16) * yStride + mbX * 16, yStride);
        copyOut(U_AT, 8, u, (mbY * 8) * uvStride + mbX * 8, uvStride);
        copyOut(V_AT, 8, v, (mbY * 8) * uvStride + mbX * 8, uvStride);
    }

    /**
     * Adds a luma block's residual as libwebp's {@code DoTransform} does: a full transform (libwebp's SSE2 one, in
     * 16-bit lanes) past the third coefficient, its 32-bit {@code TransformAC3} up to it, a DC-only one below.
     */
    private void addResidual(int block, int at) {
        switch (blockCodes[block]) {
            case 0 -> { }
            case 1 -> Vp8Transform.addInverseDctOfDc(coefficients[block * 16], work, at);
            case 2 -> Vp8Transform.addInverseDct(coefficients, block * 16, work, at, scratch);
            default -> Vp8Transform.addInverseDct16Bit(coefficients, block * 16, work, at, scratch);
        }
    }

    /**
     * Adds the residual of a chroma plane's four blocks from {@code first} on as libwebp's {@code DoUVTransform}
     * does: all four through the full (SSE2, 16-bit) transform when any has an AC coefficient, else DC-only.
     */
    private void addChromaResidual(int first, int at) {
        boolean anyAc = false;
        for (int block = first; block < first + 4; block++) {
            anyAc |= blockCodes[block] >= 2;
        }
        for (int block = first; block < first + 4; block++) {
            int offset = at + (block - first >> 1) * 4 * STRIDE + (block - first & 1) * 4;
            if (anyAc) {
                Vp8Transform.addInverseDct16Bit(coefficients, block * 16, work, offset, scratch);
            } else if (blockCodes[block] != 0) {
                Vp8Transform.addInverseDctOfDc(coefficients[block * 16], work, offset);
            }
        }
    }

    private void copyOut(int from, int size, byte[] plane, int to, int stride) {
        for (int row = 0; row < size; row++) {
            int source = from + row * STRIDE;
            int target = to + row * stride;
            for (int column = 0; column < size; column++) {
                plane[target + column] = (byte) work[source + column];
            }
        }
    }

    /** Runs the loop filter over a completed row of macroblocks, left to right (section 15). */
    private void filterRow(int mbY) {
        if (header.filterType == 0) {
            return;
        }
        boolean simple = header.filterType == Vp8FrameHeader.SIMPLE_FILTER;
        for (int mbX = 0; mbX < columns; mbX++) {
            int s = segment[mbX];
            int modeClass = subblocks[mbX] ? 1 : 0;
            Vp8LoopFilter.filterMacroblock(simple, y, mbY * 16 * yStride + mbX * 16, yStride, u, v,
                    mbY * 8 * uvStride + mbX * 8, uvStride, mbX > 0, mbY > 0, header.filterLimit[s][modeClass],
                    header.interiorLimit[s][modeClass], header.hevThreshold[s][modeClass], filterInner[mbX]);
        }
    }
}
