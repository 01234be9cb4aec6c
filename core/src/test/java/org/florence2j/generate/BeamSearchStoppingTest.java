package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.florence2j.config.EarlyStopping;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Beam search against a plain transcription of transformers 4.41's ({@code BeamSearchScorer.process},
 * {@code BeamHypotheses.add}/{@code is_done}, {@code finalize}, the minimum-length processors) on random logits, for
 * every {@code early_stopping} mode, length penalties of both signs and a minimum length: the goldens only cover
 * {@code early_stopping=true}, where {@code is_done} never reads the lengths, and no minimum.
 */
class BeamSearchStoppingTest {
    private static final int VOCABULARY = 6;
    private static final int START = 2;
    private static final int PAD = 1;
    private static final int EOS = 5;
    private static final int MAX_NEW_TOKENS = 7;
    private static final int TABLES = 60;

    /** Logits that depend on the position and the row's last token: {@code [position][lastToken][token]}. */
    private static float[][][] randomTable(Random random) {
        float[][][] table = new float[MAX_NEW_TOKENS][VOCABULARY][VOCABULARY];
        for (float[][] position : table) {
            for (float[] row : position) {
                for (int token = 0; token < VOCABULARY; token++) {
                    row[token] = (float) (2 * random.nextGaussian() + (token == EOS ? 0.5 : 0));
                }
            }
        }
        return table;
    }

    private static StepModel model(float[][][] table) {
        return new LogitsStepModel(VOCABULARY) {
            @Override
            void logits(int[] tokens, int position, float[] logits) {
                for (int row = 0; row < tokens.length; row++) {
                    System.arraycopy(table[position][tokens[row]], 0, logits, row * VOCABULARY, VOCABULARY);
                }
            }
        };
    }

    @ParameterizedTest
    @CsvSource({"2, 1.0, 0, true", "3, 1.0, 0, true", "3, 2.0, 0, true", "3, 0.0, 0, true", "3, -0.5, 0, false",
            "2, -2.0, 0, false", "2, 1.0, 3, true", "3, -0.5, 2, false"})
    void everyEarlyStoppingModeMatchesTheReference(int beams, double lengthPenalty, int minNewTokens,
            boolean modesCanDiffer) {
        Random random = new Random(31L * beams + (long) (lengthPenalty * 8));
        int modesDiffer = 0;
        for (int t = 0; t < TABLES; t++) {
            float[][][] table = randomTable(random);
            List<int[]> results = new ArrayList<>();
            for (EarlyStopping mode : EarlyStopping.values()) {
                GenerationOptions options = new GenerationOptions(beams, MAX_NEW_TOKENS, 0, START, EOS, PAD, -1, -1,
                        lengthPenalty, mode, minNewTokens);
                int[] ours = new BeamSearch(1, beams, options.maxLength(), VOCABULARY)
                        .run(model(table), 1, options)[0].sequence();
                int[] reference = ReferenceBeamSearch.run(table, beams, options.maxLength(), lengthPenalty, mode,
                        minNewTokens);
                if (minNewTokens > 0) {
                    assertTrue(ours.length == options.maxLength() || ours.length - 2 >= minNewTokens,
                            "EOS after fewer than " + minNewTokens + " tokens: " + Arrays.toString(ours));
                }
                assertArrayEquals(reference, ours, "table " + t + ", early_stopping " + mode + ": "
                        + Arrays.toString(ours) + " vs the reference's " + Arrays.toString(reference));
                results.add(ours);
            }
            if (!Arrays.equals(results.get(0), results.get(1)) || !Arrays.equals(results.get(1), results.get(2))) {
                modesDiffer++;
            }
        }
        // Tables on which the modes choose differently are the ones that exercise is_done's lengths. A negative
        // penalty favours short hypotheses: on these tables a full list's worst already beats every open beam.
        if (modesCanDiffer) {
            assertTrue(modesDiffer > 0, "no table told the early_stopping modes apart");
        }
    }

    @ParameterizedTest
    @CsvSource({"1.0", "-0.5"})
    void theReferenceTranscriptionReadsItsSettings(double lengthPenalty) {
        // Guards the oracle itself: with one beam and no EOS it must follow the arg-max chain to max_length.
        float[][][] table = new float[MAX_NEW_TOKENS][VOCABULARY][VOCABULARY];
        for (float[][] position : table) {
            for (float[] row : position) {
                Arrays.fill(row, -5f);
                row[4] = 3f;
            }
        }
        int[] sequence = ReferenceBeamSearch.run(table, 1, MAX_NEW_TOKENS + 1, lengthPenalty, EarlyStopping.FALSE,
                0);
        assertEquals(MAX_NEW_TOKENS + 1, sequence.length);
        assertTrue(IntStream.range(1, sequence.length).allMatch(i -> sequence[i] == 4), Arrays.toString(sequence));
    }

    /**
     * transformers 4.41's beam search for one image, decoder prompt = the start token; of the logits processors
     * only {@code MinNewTokensLengthLogitsProcessor}.
     */
    private static final class ReferenceBeamSearch {
        private record Hypothesis(double score, int[] tokens) {}

        private final int beams;
        private final double lengthPenalty;
        private final EarlyStopping earlyStopping;
        private final int maxLength;
        private final List<Hypothesis> kept = new ArrayList<>();
        private double worstScore = 1e9;

        private ReferenceBeamSearch(int beams, double lengthPenalty, EarlyStopping earlyStopping, int maxLength) {
            this.beams = beams;
            this.lengthPenalty = lengthPenalty;
            this.earlyStopping = earlyStopping;
            this.maxLength = maxLength;
        }

        static int[] run(float[][][] table, int beams, int maxLength, double lengthPenalty, EarlyStopping mode,
                int minNewTokens) {
            ReferenceBeamSearch search = new ReferenceBeamSearch(beams, lengthPenalty, mode, maxLength);
            int[][] inputIds = new int[beams][];
            float[] beamScores = new float[beams];
            for (int b = 0; b < beams; b++) {
                inputIds[b] = new int[] {START};
                beamScores[b] = b == 0 ? 0f : -1e9f;
            }
            boolean done = false;
            while (true) {
                int curLen = inputIds[0].length + 1;
                float[] scores = new float[beams * VOCABULARY];
                for (int b = 0; b < beams; b++) {
                    float[] logits = table[curLen - 2][inputIds[b][inputIds[b].length - 1]];
                    double max = Double.NEGATIVE_INFINITY;
                    for (float logit : logits) {
                        max = Math.max(max, logit);
                    }
                    double sum = 0;
                    for (float logit : logits) {
                        sum += Math.exp(logit - max);
                    }
                    for (int v = 0; v < VOCABULARY; v++) {
                        scores[b * VOCABULARY + v] = (float) (logits[v] - max - Math.log(sum)) + beamScores[b];
                    }
                    if (inputIds[b].length - 1 < minNewTokens) {
                        scores[b * VOCABULARY + EOS] = Float.NEGATIVE_INFINITY;
                    }
                }
                Integer[] top = IntStream.range(0, scores.length).boxed()
                        .sorted(Comparator.comparingDouble((Integer i) -> -scores[i]).thenComparing(i -> i))
                        .limit(2L * beams).toArray(Integer[]::new);
                float[] nextScores = new float[beams];
                int[] nextTokens = new int[beams];
                int[] nextBeams = new int[beams];
                int beamIdx = 0;
                for (int rank = 0; rank < top.length; rank++) {
                    int beam = top[rank] / VOCABULARY;
                    int token = top[rank] % VOCABULARY;
                    if (token == EOS) {
                        if (rank < beams) {
                            search.add(inputIds[beam], scores[top[rank]], curLen - 1);
                        }
                    } else {
                        nextScores[beamIdx] = scores[top[rank]];
                        nextTokens[beamIdx] = token;
                        nextBeams[beamIdx] = beam;
                        beamIdx++;
                    }
                    if (beamIdx == beams) {
                        break;
                    }
                }
                done = done || search.isDone(scores[top[0]], curLen);
                int[][] next = new int[beams][];
                for (int b = 0; b < beams; b++) {
                    next[b] = Arrays.copyOf(inputIds[nextBeams[b]], curLen);
                    next[b][curLen - 1] = nextTokens[b];
                }
                inputIds = next;
                beamScores = nextScores;
                if (done || inputIds[0].length >= maxLength) {
                    break;
                }
            }
            if (!done) {
                for (int b = 0; b < beams; b++) {
                    search.add(inputIds[b], beamScores[b], inputIds[b].length - 1);
                }
            }
            // sorted(..., key=score).pop(): the highest score, the last kept among equals.
            Hypothesis best = search.kept.get(0);
            for (Hypothesis hypothesis : search.kept) {
                if (hypothesis.score() >= best.score()) {
                    best = hypothesis;
                }
            }
            int[] sequence = best.tokens();
            if (sequence.length < maxLength) {
                sequence = Arrays.copyOf(sequence, sequence.length + 1);
                sequence[sequence.length - 1] = EOS;
            }
            return sequence;
        }

        private void add(int[] tokens, float sumLogprobs, int generatedLength) {
            double score = sumLogprobs / Math.pow(generatedLength, lengthPenalty);
            if (kept.size() < beams || score > worstScore) {
                kept.add(new Hypothesis(score, tokens.clone()));
                if (kept.size() > beams) {
                    Comparator<Integer> byScoreThenIndex = Comparator
                            .comparingDouble((Integer i) -> kept.get(i).score()).thenComparing(i -> i);
                    Integer[] byScore = IntStream.range(0, kept.size()).boxed().sorted(byScoreThenIndex)
                            .toArray(Integer[]::new);
                    worstScore = kept.get(byScore[1]).score();
                    kept.remove((int) byScore[0]);
                } else {
                    worstScore = Math.min(score, worstScore);
                }
            }
        }

        private boolean isDone(double bestSumLogprobs, int curLen) {
            if (kept.size() < beams) {
                return false;
            }
            int promptLength = 1;
            return switch (earlyStopping) {
                case TRUE -> true;
                case FALSE -> worstScore >= bestSumLogprobs / Math.pow(curLen - promptLength, lengthPenalty);
                case NEVER -> worstScore >= bestSumLogprobs / Math.pow(
                        (lengthPenalty > 0 ? maxLength : curLen) - promptLength, lengthPenalty);
            };
        }
    }
}
