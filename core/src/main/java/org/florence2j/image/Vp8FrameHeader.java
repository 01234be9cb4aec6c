package org.florence2j.image;

import javax.imageio.IIOException;

/**
 * The header of a VP8 key frame (RFC 6386 sections 9 and 19.2) and the decoders of its partitions, read as libwebp's
 * {@code VP8GetHeaders} reads them ({@code src/dec/vp8_dec.c}, {@code quant_dec.c}, {@code tree_dec.c}): the
 * uncompressed frame tag and picture size, then from the first partition the segmentation, the loop filter
 * settings, the token partitions' layout, the quantizers and the coefficient probabilities. The first partition's
 * decoder is left at the per-macroblock headers that follow.
 *
 * <p>libwebp's leniencies are kept, so that a frame libwebp decodes decodes here too: the colour-space and clamping
 * bits and the picture's scaling bits are ignored, and token partition sizes that run past the data are cut to it.
 */
final class Vp8FrameHeader {
    /** Segment-based adjustments apply to up to 4 segments (section 9.3). */
    static final int SEGMENTS = 4;

    private static final int FRAME_TAG_BYTES = 3;
    private static final int KEY_FRAME_HEADER_BYTES = 10;
    /** Coefficient probabilities for one block type and band: 3 contexts × 11 tree nodes. */
    static final int BAND_STRIDE = Vp8Tables.CONTEXTS * Vp8Tables.NODES;
    /** Coefficient probabilities for one block type: 8 bands. */
    static final int TYPE_STRIDE = Vp8Tables.BANDS * BAND_STRIDE;

    final int width;
    final int height;
    final int macroblockColumns;
    final int macroblockRows;
    /** The first partition, positioned at the first macroblock header. */
    final Vp8BoolDecoder modes;
    /** The token partitions; macroblock row r reads {@code tokens[r % tokens.length]}. */
    final Vp8BoolDecoder[] tokens;

    /** Whether each macroblock header names its segment; otherwise every macroblock is in segment 0. */
    final boolean segmentMapUpdated;
    /** The probabilities of the segment-id tree (section 9.3). */
    final int[] segmentProbs = {255, 255, 255};
    /** Whether macroblock headers carry a "no non-zero coefficients" flag, and its probability. */
    final boolean skipFlagCoded;
    final int skipProb;

    /** 0 (none), {@link #SIMPLE_FILTER} or {@link #NORMAL_FILTER}. */
    final int filterType;
    static final int SIMPLE_FILTER = 1;
    static final int NORMAL_FILTER = 2;
    /** Per segment, then per "has subblock modes" (0, 1): the loop filter's limits ({@link Vp8LoopFilter}). */
    final int[][] filterLimit = new int[SEGMENTS][2];
    final int[][] interiorLimit = new int[SEGMENTS][2];
    final int[][] hevThreshold = new int[SEGMENTS][2];

    /** Per segment: the dequantization factors {Y1 DC, Y1 AC, Y2 DC, Y2 AC, UV DC, UV AC}. */
    final int[][] quantizers = new int[SEGMENTS][];
    static final int Y1_DC = 0;
    static final int Y1_AC = 1;
    static final int Y2_DC = 2;
    static final int Y2_AC = 3;
    static final int UV_DC = 4;
    static final int UV_AC = 5;

    /** The coefficient token probabilities, [type][band][context][node] flattened ({@link #TYPE_STRIDE}, …). */
    final int[] coefficientProbs = new int[Vp8Tables.TYPES * TYPE_STRIDE];

    /**
     * Reads the header of the key frame in {@code data[offset, offset + byteCount)}: the payload of a WebP file's
     * {@code VP8 } chunk, padding byte included, as libwebp's demuxer hands it to the decoder.
     *
     * @throws IIOException when the frame is not a displayable key frame or its header is cut short
     */
    Vp8FrameHeader(byte[] data, int offset, int byteCount) throws IIOException {
        if (byteCount < KEY_FRAME_HEADER_BYTES) {
            throw new IIOException("the VP8 frame header needs " + KEY_FRAME_HEADER_BYTES + " bytes, got " + byteCount);
        }
        int tag = (data[offset] & 0xFF) | (data[offset + 1] & 0xFF) << 8 | (data[offset + 2] & 0xFF) << 16;
        boolean keyFrame = (tag & 1) == 0;
        int profile = tag >> 1 & 7;
        boolean shown = (tag >> 4 & 1) != 0;
        int firstPartitionBytes = tag >>> 5;
        if (!keyFrame || profile > 3 || !shown) {
            throw new IIOException("not a displayable VP8 key frame (frame tag 0x" + Integer.toHexString(tag) + ")");
        }
        int start = offset + FRAME_TAG_BYTES;
        if ((data[start] & 0xFF) != 0x9d || (data[start + 1] & 0xFF) != 0x01 || (data[start + 2] & 0xFF) != 0x2a) {
            throw new IIOException("the VP8 key frame lacks its start code 9d 01 2a");
        }
        width = ((data[start + 3] & 0xFF) | (data[start + 4] & 0xFF) << 8) & 0x3fff;
        height = ((data[start + 5] & 0xFF) | (data[start + 6] & 0xFF) << 8) & 0x3fff;
        if (width == 0 || height == 0) {
            throw new IIOException("the VP8 frame has no pixels (" + width + "x" + height + ")");
        }
        macroblockColumns = (width + 15) >> 4;
        macroblockRows = (height + 15) >> 4;

        int partitionsStart = offset + KEY_FRAME_HEADER_BYTES;
        int bytesLeft = byteCount - KEY_FRAME_HEADER_BYTES;
        if (firstPartitionBytes > bytesLeft) {
            throw new IIOException("the VP8 first partition declares " + firstPartitionBytes + " bytes, but only "
                    + bytesLeft + " follow");
        }
        modes = new Vp8BoolDecoder(data, partitionsStart, firstPartitionBytes);
        modes.readFlag(); // colour space: libwebp decodes both the same
        modes.readFlag(); // clamping type: libwebp always clamps

        int[] segmentQuantizer = new int[SEGMENTS];
        int[] segmentFilterLevel = new int[SEGMENTS];
        boolean segmentsEnabled = modes.readFlag();
        boolean segmentValuesAbsolute = true;
        boolean mapUpdated = false;
        if (segmentsEnabled) {
            mapUpdated = modes.readFlag();
            if (modes.readFlag()) { // segment data updated
                segmentValuesAbsolute = modes.readFlag();
                for (int s = 0; s < SEGMENTS; s++) {
                    segmentQuantizer[s] = modes.readFlag() ? modes.readSignedLiteral(7) : 0;
                }
                for (int s = 0; s < SEGMENTS; s++) {
                    segmentFilterLevel[s] = modes.readFlag() ? modes.readSignedLiteral(6) : 0;
                }
            }
            if (mapUpdated) {
                for (int i = 0; i < segmentProbs.length; i++) {
                    segmentProbs[i] = modes.readFlag() ? modes.readLiteral(8) : 255;
                }
            }
        }
        segmentMapUpdated = mapUpdated;
        requireNotCutShort("segment header");

        boolean simple = modes.readFlag();
        int level = modes.readLiteral(6);
        int sharpness = modes.readLiteral(3);
        // Four reference-frame deltas and four mode deltas; a key frame uses the first of each (intra frame,
        // subblock modes).
        int[] referenceDeltas = new int[4];
        int[] modeDeltas = new int[4];
        boolean deltasEnabled = modes.readFlag();
        if (deltasEnabled && modes.readFlag()) { // deltas updated
            for (int i = 0; i < referenceDeltas.length; i++) {
                referenceDeltas[i] = modes.readFlag() ? modes.readSignedLiteral(6) : 0;
            }
            for (int i = 0; i < modeDeltas.length; i++) {
                modeDeltas[i] = modes.readFlag() ? modes.readSignedLiteral(6) : 0;
            }
        }
        filterType = level == 0 ? 0 : simple ? SIMPLE_FILTER : NORMAL_FILTER;
        requireNotCutShort("filter header");

        tokens = tokenPartitions(data, partitionsStart + firstPartitionBytes, bytesLeft - firstPartitionBytes);

        int baseQuantizer = modes.readLiteral(7);
        int y1DcDelta = readQuantizerDelta();
        int y2DcDelta = readQuantizerDelta();
        int y2AcDelta = readQuantizerDelta();
        int uvDcDelta = readQuantizerDelta();
        int uvAcDelta = readQuantizerDelta();
        for (int s = 0; s < SEGMENTS; s++) {
            int q = segmentsEnabled ? segmentQuantizer[s] + (segmentValuesAbsolute ? 0 : baseQuantizer) : baseQuantizer;
            quantizers[s] = new int[] {
                Vp8Tables.DC_QUANT[clamp(q + y1DcDelta, 127)],
                Vp8Tables.AC_QUANT[clamp(q, 127)],
                Vp8Tables.DC_QUANT[clamp(q + y2DcDelta, 127)] * 2,
                // The spec's 155 / 100, as libwebp computes it (equal for every table value), and at least 8.
                Math.max((Vp8Tables.AC_QUANT[clamp(q + y2AcDelta, 127)] * 101581) >> 16, 8),
                Vp8Tables.DC_QUANT[clamp(q + uvDcDelta, 117)],
                Vp8Tables.AC_QUANT[clamp(q + uvAcDelta, 127)],
            };
            int segmentLevel = segmentsEnabled
                    ? segmentFilterLevel[s] + (segmentValuesAbsolute ? 0 : level) : level;
            for (int subblocks = 0; subblocks <= 1; subblocks++) {
                setFilterStrength(s, subblocks, segmentLevel, deltasEnabled, referenceDeltas[0], modeDeltas[0],
                        sharpness);
            }
        }

        modes.readFlag(); // refresh_entropy_probs: meaningless for a single key frame
        for (int t = 0; t < Vp8Tables.TYPES; t++) {
            for (int b = 0; b < Vp8Tables.BANDS; b++) {
                for (int c = 0; c < Vp8Tables.CONTEXTS; c++) {
                    for (int n = 0; n < Vp8Tables.NODES; n++) {
                        coefficientProbs[t * TYPE_STRIDE + b * BAND_STRIDE + c * Vp8Tables.NODES + n] =
                                modes.readBit(Vp8Tables.COEFFICIENT_UPDATE_PROBS[t][b][c][n]) != 0
                                        ? modes.readLiteral(8) : Vp8Tables.DEFAULT_COEFFICIENT_PROBS[t][b][c][n];
                    }
                }
            }
        }
        skipFlagCoded = modes.readFlag();
        skipProb = skipFlagCoded ? modes.readLiteral(8) : 0;
    }

    /**
     * The decoders of the token partitions that follow the first partition in {@code data[start, start + byteCount)}:
     * their count, then the sizes of all but the last (3 bytes each, little-endian), then the partitions. As in
     * libwebp, a size past the data is cut to it, and the last partition, which takes the rest, must not be empty.
     */
    private Vp8BoolDecoder[] tokenPartitions(byte[] data, int start, int byteCount) throws IIOException {
        int count = 1 << modes.readLiteral(2);
        int sizesBytes = 3 * (count - 1);
        if (byteCount < sizesBytes) {
            throw new IIOException("the sizes of the " + count + " VP8 token partitions run past the data");
        }
        Vp8BoolDecoder[] partitions = new Vp8BoolDecoder[count];
        int partitionStart = start + sizesBytes;
        int bytesLeft = byteCount - sizesBytes;
        for (int p = 0; p < count - 1; p++) {
            int at = start + 3 * p;
            int size = (data[at] & 0xFF) | (data[at + 1] & 0xFF) << 8 | (data[at + 2] & 0xFF) << 16;
            size = Math.min(size, bytesLeft);
            partitions[p] = new Vp8BoolDecoder(data, partitionStart, size);
            partitionStart += size;
            bytesLeft -= size;
        }
        if (bytesLeft == 0) {
            throw new IIOException("the last VP8 token partition is empty: the data is truncated");
        }
        partitions[count - 1] = new Vp8BoolDecoder(data, partitionStart, bytesLeft);
        return partitions;
    }

    private int readQuantizerDelta() {
        return modes.readFlag() ? modes.readSignedLiteral(4) : 0;
    }

    /** libwebp's {@code PrecomputeFilterStrengths} for one segment and mode class. */
    private void setFilterStrength(int segment, int subblocks, int segmentLevel, boolean deltasEnabled,
            int referenceDelta, int subblockModeDelta, int sharpness) {
        if (filterType == 0) {
            return;
        }
        int level = segmentLevel;
        if (deltasEnabled) {
            level += referenceDelta + (subblocks == 1 ? subblockModeDelta : 0);
        }
        level = clamp(level, 63);
        if (level == 0) {
            return; // a limit of 0: not filtered
        }
        int interior = level;
        if (sharpness > 0) {
            interior >>= sharpness > 4 ? 2 : 1;
            interior = Math.min(interior, 9 - sharpness);
        }
        interior = Math.max(interior, 1);
        interiorLimit[segment][subblocks] = interior;
        filterLimit[segment][subblocks] = 2 * level + interior;
        hevThreshold[segment][subblocks] = level >= 40 ? 2 : level >= 15 ? 1 : 0;
    }

    private void requireNotCutShort(String part) throws IIOException {
        if (modes.atEnd()) {
            throw new IIOException("the VP8 " + part + " runs past the end of the first partition");
        }
    }

    private static int clamp(int value, int max) {
        return value < 0 ? 0 : Math.min(value, max);
    }
}
