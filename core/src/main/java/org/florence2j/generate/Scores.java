package org.florence2j.generate;

/** Row operations on flat score arrays, in float like the reference's float32 tensors. */
final class Scores {
    private Scores() {}

    /** {@code log(Σ exp(x))} over {@code x[offset … offset + count)}, with the maximum factored out. */
    static float logSumExp(float[] x, int offset, int count) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = offset; i < offset + count; i++) {
            max = Math.max(max, x[i]);
        }
        if (max == Float.NEGATIVE_INFINITY) {
            return max;
        }
        double sum = 0;
        for (int i = offset; i < offset + count; i++) {
            sum += Math.exp(x[i] - max);
        }
        return max + (float) Math.log(sum);
    }

    /** {@code x = x - logSumExp(x)} over one row (torch's {@code log_softmax}). */
    static void logSoftmax(float[] x, int offset, int count) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = offset; i < offset + count; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = offset; i < offset + count; i++) {
            sum += Math.exp(x[i] - max);
        }
        float logSum = (float) Math.log(sum);
        for (int i = offset; i < offset + count; i++) {
            x[i] = x[i] - max - logSum;
        }
    }

    /** Index (relative to {@code offset}) of the first maximum, like {@code torch.argmax}. */
    static int argmax(float[] x, int offset, int count) {
        int best = 0;
        for (int i = 1; i < count; i++) {
            if (x[offset + i] > x[offset + best]) {
                best = i;
            }
        }
        return best;
    }
}
