package org.florence2j.generate;

import java.util.Arrays;

/**
 * Beam search as HuggingFace's {@code _beam_search} with {@code BeamSearchScorer} runs it (transformers 4.41):
 * per step, {@code log_softmax} of each row's logits, then the processors (no-repeat n-gram, forced BOS/EOS), plus
 * the beam's running score; the best {@code 2·numBeams} candidates over all beams of an image are taken in order
 * (ties to the lower {@code beam · vocabulary + token}), an EOS among the first {@code numBeams} closes a hypothesis
 * (scored {@code sum / generatedLength^lengthPenalty}), the others continue as the next beams. Beams start at score
 * 0 for beam 0 and -1e9 for the rest, so the first step expands one beam. An image is done once its hypotheses are
 * full (early stopping) and the loop ends when every image is done or {@code max_length} is reached; open beams of
 * unfinished images then join the hypotheses.
 *
 * <p>The step does the per-row work ({@code Backend.logSoftmaxTopK}) and returns each row's best
 * {@code 2·numBeams}; the image's best {@code 2·numBeams} are among them, and are merged here.
 *
 * <p>The beams of all images run through the model as one batch of {@code images × numBeams} rows. Every buffer
 * is sized at construction; a step allocates nothing.
 */
public final class BeamSearch {
    private static final float INITIAL_OTHER_BEAMS = -1e9f;

    private final int maxRows;
    private final int maxBeams;
    private final int maxLength;
    private final int vocabulary;
    private final Candidates candidates;
    private final int[][] history; // [2][maxRows · maxLength], double-buffered for reordering
    private final float[][] transitions; // [2][maxRows · maxLength]
    private final float[] beamScores; // [maxRows]
    private final float[] nextScores; // [maxRows]
    private final int[] nextTokens; // [maxRows]
    private final int[] nextParents; // [maxRows]
    private final float[] nextLogProbs; // [maxRows]
    private final float[] topScores; // [2 · maxBeams]
    private final int[] topIndices; // [2 · maxBeams], flat index beam · vocabulary + token, -1 when none
    private final float[] topLogProbs; // [2 · maxBeams]
    private final Hypotheses[] hypotheses; // [maxRows / beams]
    private final boolean[] done; // [maxRows]

    /** Buffers for up to {@code maxImages} images of {@code maxBeams} beams, {@code maxLength} tokens each. */
    public BeamSearch(int maxImages, int maxBeams, int maxLength, int vocabulary) {
        this.maxRows = maxImages * maxBeams;
        this.maxBeams = maxBeams;
        this.maxLength = maxLength;
        this.vocabulary = vocabulary;
        this.candidates = new Candidates(maxRows, 2 * maxBeams, maxLength);
        this.history = new int[2][maxRows * maxLength];
        this.transitions = new float[2][maxRows * maxLength];
        this.beamScores = new float[maxRows];
        this.nextScores = new float[maxRows];
        this.nextTokens = new int[maxRows];
        this.nextParents = new int[maxRows];
        this.nextLogProbs = new float[maxRows];
        this.topScores = new float[2 * maxBeams];
        this.topIndices = new int[2 * maxBeams];
        this.topLogProbs = new float[2 * maxBeams];
        this.hypotheses = new Hypotheses[maxImages];
        for (int i = 0; i < maxImages; i++) {
            hypotheses[i] = new Hypotheses(maxBeams, maxLength);
        }
        this.done = new boolean[maxImages];
    }

    /** Generates the best sequence of each image; {@code model} holds {@code images × numBeams} rows. */
    public GenerationResult[] run(StepModel model, int images, GenerationOptions options) {
        int beams = options.numBeams();
        int rows = images * beams;
        int length = options.maxLength();
        int positions = model.positions();
        int reachable = options.reachableLength(positions);
        if (beams > maxBeams || rows > maxRows || reachable > maxLength) {
            throw new IllegalArgumentException("beam search of " + images + " images × " + beams + " beams × "
                    + reachable + " tokens exceeds its buffers (" + maxRows / maxBeams + " × " + maxBeams + " × "
                    + maxLength + ")");
        }
        NoRepeatNGram noRepeat = new NoRepeatNGram(options.noRepeatNgramSize());
        ForcedTokens forced = new ForcedTokens(options.forcedBosToken(), options.forcedEosToken(), length);
        int[] tokens = new int[rows];
        int[] parents = new int[rows];
        int live = 0;
        for (int r = 0; r < rows; r++) {
            history[live][r * maxLength] = options.decoderStartToken();
            tokens[r] = options.decoderStartToken();
            beamScores[r] = r % beams == 0 ? 0f : INITIAL_OTHER_BEAMS;
        }
        for (int i = 0; i < images; i++) {
            hypotheses[i].reset(beams, options.lengthPenalty(), options.earlyStopping(), length);
            done[i] = false;
        }
        boolean reorder = false;
        int current = 1;
        while (true) {
            if (current - 1 == positions) {
                throw options.pastPositions(positions, done, images);
            }
            candidates.prepare(rows, 2 * beams);
            candidates.force(forced.forcedAfter(current));
            for (int r = 0; r < rows; r++) {
                candidates.ban(r, noRepeat, history[live], r * maxLength, current, options.bannedAfter(current));
                candidates.setScoreOffset(r, beamScores[r]);
            }
            model.step(tokens, reorder ? parents : null, current - 1, candidates);
            boolean allDone = true;
            for (int image = 0; image < images; image++) {
                selectNext(image, beams, current, live, options);
                allDone &= done[image];
            }
            int next = 1 - live;
            reorder = false;
            for (int r = 0; r < rows; r++) {
                int parent = nextParents[r];
                int[] from = history[live];
                int[] to = history[next];
                System.arraycopy(from, parent * maxLength, to, r * maxLength, current);
                to[r * maxLength + current] = nextTokens[r];
                System.arraycopy(transitions[live], parent * maxLength, transitions[next], r * maxLength,
                        current - 1);
                transitions[next][r * maxLength + current - 1] = nextLogProbs[r];
                beamScores[r] = nextScores[r];
                tokens[r] = nextTokens[r];
                parents[r] = parent;
                reorder |= parent != r;
            }
            live = next;
            current++;
            if (allDone || current >= length) {
                break;
            }
        }
        GenerationResult[] results = new GenerationResult[images];
        for (int image = 0; image < images; image++) {
            if (!done[image]) {
                for (int b = 0; b < beams; b++) {
                    int r = image * beams + b;
                    hypotheses[image].add(history[live], r * maxLength, current, transitions[live], r * maxLength,
                            current - 1, Float.NaN, beamScores[r], current - 1);
                }
            }
            results[image] = hypotheses[image].best(options.eosToken(), length);
        }
        return results;
    }

    /** {@code BeamSearchScorer.process} for one image: fills the next tokens, scores and parents of its beams. */
    private void selectNext(int image, int beams, int current, int live, GenerationOptions options) {
        int base = image * beams;
        if (done[image]) {
            for (int b = 0; b < beams; b++) {
                nextTokens[base + b] = options.padToken();
                nextScores[base + b] = 0f;
                nextParents[base + b] = base + b;
                nextLogProbs[base + b] = 0f;
            }
            return;
        }
        topCandidates(base, beams);
        int beam = 0;
        for (int rank = 0; rank < 2 * beams && beam < beams; rank++) {
            int flat = topIndices[rank];
            int row = flat < 0 ? base : base + flat / vocabulary;
            int token = flat < 0 ? options.padToken() : flat % vocabulary;
            float logProb = topLogProbs[rank];
            if (flat >= 0 && token == options.eosToken()) {
                if (rank < beams) {
                    hypotheses[image].add(history[live], row * maxLength, current, transitions[live],
                            row * maxLength, current - 1, logProb, topScores[rank], current);
                }
                continue;
            }
            nextTokens[base + beam] = token;
            nextScores[base + beam] = topScores[rank];
            nextParents[base + beam] = row;
            nextLogProbs[base + beam] = logProb;
            beam++;
        }
        done[image] = hypotheses[image].isDone(topScores[0], current);
    }

    /**
     * The best {@code 2·beams} of {@code logProb + beamScore} over the image's beams, ties to the lower flat index:
     * a merge of the rows' candidates, each row's best first with ties in token order. Rows are visited in order
     * and an entry enters only by beating a held score, so among equal scores the earlier (lower) index stays first.
     */
    private void topCandidates(int base, int beams) {
        int k = 2 * beams;
        Arrays.fill(topScores, 0, k, Float.NEGATIVE_INFINITY);
        Arrays.fill(topIndices, 0, k, -1);
        Arrays.fill(topLogProbs, 0, k, Float.NEGATIVE_INFINITY);
        for (int b = 0; b < beams; b++) {
            int rowStart = (base + b) * k;
            for (int j = 0; j < k; j++) {
                int token = candidates.tokens()[rowStart + j];
                float score = candidates.scores()[rowStart + j];
                if (token < 0 || !(score > topScores[k - 1])) {
                    break; // the row's later candidates score no higher
                }
                int at = k - 1;
                while (at > 0 && score > topScores[at - 1]) {
                    topScores[at] = topScores[at - 1];
                    topIndices[at] = topIndices[at - 1];
                    topLogProbs[at] = topLogProbs[at - 1];
                    at--;
                }
                topScores[at] = score;
                topIndices[at] = b * vocabulary + token;
                topLogProbs[at] = candidates.logProbs()[rowStart + j];
            }
        }
    }
}
