package org.florence2j.image;

/**
 * The in-loop deblocking filters of VP8 (RFC 6386 section 15), as libwebp applies them ({@code src/dsp/dec.c},
 * {@code src/dec/frame_dec.c} {@code DoFilter}): across a macroblock's left and top edges and, when it has
 * subblock structure, across its inner 4-sample edges, on planes of 8-bit samples. The "simple" filter touches
 * luma only; the "normal" one luma and chroma.
 *
 * <p>Thresholds are libwebp's: an edge is filtered where {@code 4·|p0 − q0| + |p1 − q1| ≤ 2·limit + 1}, the spec's
 * {@code 2·|p0 − q0| + |p1 − q1|/2 ≤ limit} in integers.
 */
final class Vp8LoopFilter {
    private Vp8LoopFilter() {}

    /**
     * Filters the edges of one macroblock whose luma starts at {@code y[yAt]} (and, for the normal filter, whose
     * chroma starts at {@code u[uvAt]}, {@code v[uvAt]}), the left edge unless it is the picture's, the top edge
     * unless it is the picture's.
     *
     * @param limit     the macroblock's edge limit {@code 2 × level + interiorLimit}; 0 means not filtered
     * @param inner     whether the inner edges are filtered too (subblock modes, or coefficients present)
     */
    static void filterMacroblock(boolean simple, byte[] y, int yAt, int yStride, byte[] u, byte[] v, int uvAt,
            int uvStride, boolean leftEdge, boolean topEdge, int limit, int interiorLimit, int hevThreshold,
            boolean inner) {
        if (limit == 0) {
            return;
        }
        int edgeLimit = 2 * (limit + 4) + 1;
        int innerLimit = 2 * limit + 1;
        if (simple) {
            if (leftEdge) {
                simpleEdge(y, yAt, 1, yStride, edgeLimit);
            }
            if (inner) {
                for (int x = 4; x < 16; x += 4) {
                    simpleEdge(y, yAt + x, 1, yStride, innerLimit);
                }
            }
            if (topEdge) {
                simpleEdge(y, yAt, yStride, 1, edgeLimit);
            }
            if (inner) {
                for (int row = 4; row < 16; row += 4) {
                    simpleEdge(y, yAt + row * yStride, yStride, 1, innerLimit);
                }
            }
            return;
        }
        if (leftEdge) {
            normalEdge(y, yAt, 1, yStride, 16, edgeLimit, interiorLimit, hevThreshold, true);
            normalEdge(u, uvAt, 1, uvStride, 8, edgeLimit, interiorLimit, hevThreshold, true);
            normalEdge(v, uvAt, 1, uvStride, 8, edgeLimit, interiorLimit, hevThreshold, true);
        }
        if (inner) {
            for (int x = 4; x < 16; x += 4) {
                normalEdge(y, yAt + x, 1, yStride, 16, innerLimit, interiorLimit, hevThreshold, false);
            }
            normalEdge(u, uvAt + 4, 1, uvStride, 8, innerLimit, interiorLimit, hevThreshold, false);
            normalEdge(v, uvAt + 4, 1, uvStride, 8, innerLimit, interiorLimit, hevThreshold, false);
        }
        if (topEdge) {
            normalEdge(y, yAt, yStride, 1, 16, edgeLimit, interiorLimit, hevThreshold, true);
            normalEdge(u, uvAt, uvStride, 1, 8, edgeLimit, interiorLimit, hevThreshold, true);
            normalEdge(v, uvAt, uvStride, 1, 8, edgeLimit, interiorLimit, hevThreshold, true);
        }
        if (inner) {
            for (int row = 4; row < 16; row += 4) {
                normalEdge(y, yAt + row * yStride, yStride, 1, 16, innerLimit, interiorLimit, hevThreshold, false);
            }
            normalEdge(u, uvAt + 4 * uvStride, uvStride, 1, 8, innerLimit, interiorLimit, hevThreshold, false);
            normalEdge(v, uvAt + 4 * uvStride, uvStride, 1, 8, innerLimit, interiorLimit, hevThreshold, false);
        }
    }

    /**
     * The simple filter along one 16-sample edge: {@code at} is the first sample after the edge (q0), {@code across}
     * steps across the edge and {@code along} along it.
     */
    private static void simpleEdge(byte[] plane, int at, int across, int along, int threshold) {
        for (int i = 0; i < 16; i++, at += along) {
            int p1 = plane[at - 2 * across] & 0xFF;
            int p0 = plane[at - across] & 0xFF;
            int q0 = plane[at] & 0xFF;
            int q1 = plane[at + across] & 0xFF;
            if (4 * Math.abs(p0 - q0) + Math.abs(p1 - q1) <= threshold) {
                adjustCentre(plane, at, across, p1, p0, q0, q1);
            }
        }
    }

    /**
     * The normal filter along an edge of {@code length} samples: where the samples across it are close enough, a
     * high edge variance adjusts only p0 and q0; otherwise up to three samples each side change on a macroblock edge,
     * two on a subblock edge.
     */
    private static void normalEdge(byte[] plane, int at, int across, int along, int length, int threshold,
            int interiorLimit, int hevThreshold, boolean macroblockEdge) {
        for (int i = 0; i < length; i++, at += along) {
            if (!needsFilter(plane, at, across, threshold, interiorLimit)) {
                continue;
            }
            int p1 = plane[at - 2 * across] & 0xFF;
            int p0 = plane[at - across] & 0xFF;
            int q0 = plane[at] & 0xFF;
            int q1 = plane[at + across] & 0xFF;
            if (Math.abs(p1 - p0) > hevThreshold || Math.abs(q1 - q0) > hevThreshold) {
                adjustCentre(plane, at, across, p1, p0, q0, q1);
            } else if (macroblockEdge) {
                adjustMacroblockEdge(plane, at, across, p1, p0, q0, q1);
            } else {
                adjustSubblockEdge(plane, at, across, p1, p0, q0, q1);
            }
        }
    }

    /** libwebp's {@code do_filter6}: p2..q2 move towards each other, by 9, 18 and 27 parts in 128 of the step. */
    private static void adjustMacroblockEdge(byte[] plane, int at, int across, int p1, int p0, int q0, int q1) {
        int p2 = plane[at - 3 * across] & 0xFF;
        int q2 = plane[at + 2 * across] & 0xFF;
        int w = clampSigned(clampSigned(p1 - q1) + 3 * (q0 - p0));
        int a1 = (27 * w + 63) >> 7;
        int a2 = (18 * w + 63) >> 7;
        int a3 = (9 * w + 63) >> 7;
        plane[at - 3 * across] = (byte) Vp8Intra.clamp255(p2 + a3);
        plane[at - 2 * across] = (byte) Vp8Intra.clamp255(p1 + a2);
        plane[at - across] = (byte) Vp8Intra.clamp255(p0 + a1);
        plane[at] = (byte) Vp8Intra.clamp255(q0 - a1);
        plane[at + across] = (byte) Vp8Intra.clamp255(q1 - a2);
        plane[at + 2 * across] = (byte) Vp8Intra.clamp255(q2 - a3);
    }

    /** libwebp's {@code do_filter4}: p0 and q0 by the step, p1 and q1 by half of it. */
    private static void adjustSubblockEdge(byte[] plane, int at, int across, int p1, int p0, int q0, int q1) {
        int a = 3 * (q0 - p0);
        int a1 = clampFilter((a + 4) >> 3);
        int a2 = clampFilter((a + 3) >> 3);
        int a3 = (a1 + 1) >> 1;
        plane[at - 2 * across] = (byte) Vp8Intra.clamp255(p1 + a3);
        plane[at - across] = (byte) Vp8Intra.clamp255(p0 + a2);
        plane[at] = (byte) Vp8Intra.clamp255(q0 - a1);
        plane[at + across] = (byte) Vp8Intra.clamp255(q1 - a3);
    }

    /** The common adjustment of p0 and q0 with the outer taps p1, q1 (libwebp's {@code do_filter2}). */
    private static void adjustCentre(byte[] plane, int at, int across, int p1, int p0, int q0, int q1) {
        int a = 3 * (q0 - p0) + clampSigned(p1 - q1);
        int a1 = clampFilter((a + 4) >> 3);
        int a2 = clampFilter((a + 3) >> 3);
        plane[at - across] = (byte) Vp8Intra.clamp255(p0 + a2);
        plane[at] = (byte) Vp8Intra.clamp255(q0 - a1);
    }

    private static boolean needsFilter(byte[] plane, int at, int across, int threshold, int interiorLimit) {
        int p3 = plane[at - 4 * across] & 0xFF;
        int p2 = plane[at - 3 * across] & 0xFF;
        int p1 = plane[at - 2 * across] & 0xFF;
        int p0 = plane[at - across] & 0xFF;
        int q0 = plane[at] & 0xFF;
        int q1 = plane[at + across] & 0xFF;
        int q2 = plane[at + 2 * across] & 0xFF;
        int q3 = plane[at + 3 * across] & 0xFF;
        return 4 * Math.abs(p0 - q0) + Math.abs(p1 - q1) <= threshold
                && Math.abs(p3 - p2) <= interiorLimit && Math.abs(p2 - p1) <= interiorLimit
                && Math.abs(p1 - p0) <= interiorLimit && Math.abs(q3 - q2) <= interiorLimit
                && Math.abs(q2 - q1) <= interiorLimit && Math.abs(q1 - q0) <= interiorLimit;
    }

    /** Clamps to a signed byte, -128..127. */
    private static int clampSigned(int value) {
        return value < -128 ? -128 : Math.min(value, 127);
    }

    /** Clamps a filter step to -16..15, the range of a clamped signed byte divided by 8. */
    private static int clampFilter(int value) {
        return value < -16 ? -16 : Math.min(value, 15);
    }
}
