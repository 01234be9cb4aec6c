package org.florence2j.generate;

import java.util.Arrays;
import org.florence2j.config.EarlyStopping;

/**
 * The finished hypotheses of one image, HuggingFace's {@code BeamHypotheses}: keeps the {@code numBeams} best by
 * {@code sum(logprobs) / generatedLength^lengthPenalty}, evicting the worst (the earliest among equal scores) when
 * full, and the best is the last-added among equal scores, as the reference's stable sort then {@code pop()}
 * picks it. Slots are preallocated; adding copies into a free slot.
 */
final class Hypotheses {
    private final int maxLength;
    private final int[][] tokens; // [maxBeams + 1][maxLength]
    private final float[][] transitions; // [maxBeams + 1][maxLength]
    private final int[] lengths; // [maxBeams + 1]
    private final int[] transitionCounts; // [maxBeams + 1]
    private final double[] scores; // [maxBeams + 1]
    private final int[] order; // slot of each kept hypothesis, in insertion order (the reference's list order)
    private final boolean[] slotUsed; // [maxBeams + 1]
    private int beams;
    private double lengthPenalty;
    private EarlyStopping earlyStopping;
    private int generatedLengthLimit; // the request's max_length less the decoder start token
    private int count;
    private double worstScore;

    Hypotheses(int maxBeams, int maxLength) {
        this.maxLength = maxLength;
        this.tokens = new int[maxBeams + 1][maxLength];
        this.transitions = new float[maxBeams + 1][maxLength];
        this.lengths = new int[maxBeams + 1];
        this.transitionCounts = new int[maxBeams + 1];
        this.scores = new double[maxBeams + 1];
        this.order = new int[maxBeams + 1];
        this.slotUsed = new boolean[maxBeams + 1];
    }

    /** Empties the set for a request with {@code beams} beams and the given {@code max_length}. */
    void reset(int beams, double lengthPenalty, EarlyStopping earlyStopping, int requestMaxLength) {
        this.beams = beams;
        this.lengthPenalty = lengthPenalty;
        this.earlyStopping = earlyStopping;
        this.generatedLengthLimit = requestMaxLength - 1;
        this.count = 0;
        this.worstScore = 1e9;
        Arrays.fill(slotUsed, false);
    }

    /**
     * Offers a hypothesis: {@code length} ids of {@code history} from {@code historyOffset}, the first
     * {@code transitionCount} transition scores from {@code transitionOffset}, then {@code lastTransition} unless
     * it is NaN (the EOS step, whose id the reference appends at the end).
     */
    void add(int[] history, int historyOffset, int length, float[] transitionsIn, int transitionOffset,
            int transitionCount, float lastTransition, float sumLogprobs, int generatedLength) {
        double score = sumLogprobs / Math.pow(generatedLength, lengthPenalty);
        if (count >= beams && score <= worstScore) {
            return;
        }
        int slot = freeSlot();
        System.arraycopy(history, historyOffset, tokens[slot], 0, length);
        System.arraycopy(transitionsIn, transitionOffset, transitions[slot], 0, transitionCount);
        int transitionsKept = transitionCount;
        if (!Float.isNaN(lastTransition)) {
            transitions[slot][transitionsKept++] = lastTransition;
        }
        lengths[slot] = length;
        transitionCounts[slot] = transitionsKept;
        scores[slot] = score;
        order[count++] = slot;
        slotUsed[slot] = true;
        if (count > beams) {
            int worst = 0;
            for (int i = 1; i < count; i++) {
                if (scores[order[i]] < scores[order[worst]]) {
                    worst = i;
                }
            }
            slotUsed[order[worst]] = false;
            System.arraycopy(order, worst + 1, order, worst, count - worst - 1);
            count--;
            worstScore = Double.POSITIVE_INFINITY;
            for (int i = 0; i < count; i++) {
                worstScore = Math.min(worstScore, scores[order[i]]);
            }
        } else {
            worstScore = Math.min(score, worstScore);
        }
    }

    /**
     * HuggingFace's {@code is_done}: full, and {@link #earlyStopping} says no open beam can still beat the worst.
     *
     * @param bestSumLogprobs the best score among the step's candidates
     * @param generatedLength the open beams' length without the decoder start token after this step's token
     *                        ({@code cur_len - decoder_prompt_len})
     */
    boolean isDone(float bestSumLogprobs, int generatedLength) {
        if (count < beams) {
            return false;
        }
        return switch (earlyStopping) {
            case TRUE -> true;
            case FALSE -> worstBeats(bestSumLogprobs, generatedLength);
            case NEVER -> worstBeats(bestSumLogprobs, lengthPenalty > 0 ? generatedLengthLimit : generatedLength);
        };
    }

    /** Whether the worst kept hypothesis scores at least {@code sumLogprobs} normalised by {@code length}. */
    private boolean worstBeats(double sumLogprobs, int length) {
        return worstScore >= sumLogprobs / Math.pow(length, lengthPenalty);
    }

    /**
     * The best hypothesis, EOS appended when shorter than the request's {@code max_length} (the reference's
     * {@code BeamSearchScorer.finalize}); the buffers may be longer than this request's {@code max_length}.
     */
    GenerationResult best(int eosToken, int requestMaxLength) {
        int best = 0;
        for (int i = 1; i < count; i++) {
            if (scores[order[i]] >= scores[order[best]]) {
                best = i;
            }
        }
        int slot = order[best];
        int length = lengths[slot];
        boolean appendEos = length < requestMaxLength;
        int[] sequence = Arrays.copyOf(tokens[slot], appendEos ? length + 1 : length);
        if (appendEos) {
            sequence[length] = eosToken;
        }
        return new GenerationResult(sequence, Arrays.copyOf(transitions[slot], transitionCounts[slot]),
                (float) scores[slot]);
    }

    /** A result from raw arrays (greedy search), scored with the beam formula. */
    static GenerationResult result(int[] history, int historyOffset, int length, float[] transitionsIn,
            int transitionOffset, int transitionCount, double lengthPenalty) {
        float[] scoresOut = Arrays.copyOfRange(transitionsIn, transitionOffset, transitionOffset + transitionCount);
        float sum = 0;
        for (float s : scoresOut) {
            sum += s;
        }
        return new GenerationResult(Arrays.copyOfRange(history, historyOffset, historyOffset + length), scoresOut,
                (float) (sum / Math.pow(transitionCount, lengthPenalty)));
    }

    private int freeSlot() {
        for (int s = 0; s < slotUsed.length; s++) {
            if (!slotUsed[s]) {
                return s;
            }
        }
        throw new IllegalStateException("no free hypothesis slot");
    }
}
