package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.model.Session;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Greedy and beam-3 generation against the golden cases, from the reference's {@code encoder_inputs_embeds}, with
 * each case's recorded {@code kwargs}: ids exact (greedy: up to the recorded near-tie step, then the reference's
 * per-step top-5), beam transition scores within 1e-3 and the sequence score within 1e-3.
 *
 * <p>{@code CpuBackend} runs all 60 cases (about 0.1 s each). {@code ReferenceBackend}, 5-10 times slower per
 * case, runs the 8 of {@link #REFERENCE_CASES}: every image, and four cases with a recorded near tie. (All 60
 * matched on it when the subset was chosen; the model code is the same on both, so the CPU run covers the rest.)
 * CUDA device 0 runs all 60 with the same F32 tolerances twice, with decode steps replayed as CUDA graphs
 * ({@code cuda}, the default) and launched op by op ({@code cuda-eager}), or each case aborts saying why CUDA is
 * unavailable; {@link #cudaDecodeStepsAreReplayedGraphs} checks that the graphs are really replayed.
 */
class GenerationGoldenTest {
    /** Cases run on the reference backend: images 0-3, greedy near ties at steps 4, 10, 25 and 6. */
    static final List<String> REFERENCE_CASES = List.of("img0_task0", "img0_task7", "img1_task4", "img1_task12",
            "img2_task3", "img2_task10", "img3_task6", "img3_task13");

    private static final Map<String, Loaded> LOADED = new LinkedHashMap<>();

    /** The model and a session on one backend, loaded by its first case and kept for the rest. */
    private record Loaded(GoldenText golden, Session session) {}

    @AfterAll
    static void close() {
        for (Loaded loaded : LOADED.values()) {
            loaded.session().close();
            loaded.golden().close();
        }
        LOADED.clear();
    }

    static Stream<Arguments> backendsAndCases() {
        Stream<Arguments> cpu = GoldenText.caseIds().stream().map(id -> Arguments.of("cpu", id));
        Stream<Arguments> reference = REFERENCE_CASES.stream().map(id -> Arguments.of("reference", id));
        Stream<Arguments> cuda = GoldenText.caseIds().stream().map(id -> Arguments.of("cuda", id));
        Stream<Arguments> cudaEager = GoldenText.caseIds().stream().map(id -> Arguments.of("cuda-eager", id));
        return Stream.of(cpu, reference, cuda, cudaEager).flatMap(s -> s);
    }

    @Test
    void everyCaseIsCheckedOnSomeBackend() {
        List<String> ids = GoldenText.caseIds();
        assertEquals(60, ids.size(), "golden cases");
        assertTrue(ids.containsAll(REFERENCE_CASES), "reference cases " + REFERENCE_CASES + " among " + ids);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCases")
    void greedyAndBeamMatchTheGoldenCase(String backendName, String caseId) {
        Loaded loaded = LOADED.computeIfAbsent(backendName, name -> {
            GoldenText golden = GoldenText.open(name);
            return new Loaded(golden, newSession(golden));
        });
        assertGoldenCase(backendName + " " + caseId, loaded.golden(), loaded.session(), caseId);
    }

    /**
     * With graphs on, a session's decode steps after the first of each variant are graph launches, and the ids are
     * still the goldens'; with graphs off, none is.
     */
    @Test
    void cudaDecodeStepsAreReplayedGraphs() {
        for (boolean graphs : new boolean[] {true, false}) {
            CudaBackend backend = GoldenText.openCudaOrAbort(graphs);
            try (GoldenText golden = new GoldenText(backend); Session session = newSession(golden)) {
                for (String caseId : REFERENCE_CASES) {
                    assertGoldenCase((graphs ? "cuda " : "cuda-eager ") + caseId, golden, session, caseId);
                }
                long launches = backend.stepGraphLaunches();
                assertTrue(graphs ? launches >= REFERENCE_CASES.size() : launches == 0,
                        "graphs " + graphs + ": " + launches + " decode steps replayed over "
                                + REFERENCE_CASES.size() + " greedy and beam cases");
            } finally {
                backend.close();
            }
        }
    }

    private static Session newSession(GoldenText golden) {
        return new Session(golden.backend(), golden.model(), new Session.Limits(4, 64, 32, 3));
    }

    /** Greedy and beam-3 generation of one golden case on {@code session}, against the case's recorded results. */
    private static void assertGoldenCase(String id, GoldenText golden, Session session, String caseId) {
        JsonNode goldenCase = golden.caseById(caseId);
        try (SafetensorsFile arrays = golden.arrays(goldenCase)) {
            Tensor embeds = arrays.tensor("encoder_inputs_embeds");
            JsonNode greedy = goldenCase.get("generate").get("greedy");
            GenerationResult greedyResult = session.generateFromEmbeds(List.of(embeds),
                    options(golden, greedy.get("kwargs")))[0];
            assertGreedy(id, greedy, arrays, greedyResult.sequence());

            JsonNode beam = goldenCase.get("generate").get("beam3");
            GenerationResult beamResult = session.generateFromEmbeds(List.of(embeds),
                    options(golden, beam.get("kwargs")))[0];
            int[] expected = GoldenText.ints(beam.get("sequence"));
            GoldenIds.assertIds(id + " beam3", expected, beamResult.sequence());
            Tolerance.TRANSITION_SCORES.assertClose(id + " beam3_transition_scores",
                    arrays.tensor("beam3_transition_scores").toFloatArray(), beamResult.transitionScores());
            Tolerance.TRANSITION_SCORES.assertClose(id + " sequences_scores",
                    new float[] {(float) beam.get("sequences_scores").asDouble()},
                    new float[] {beamResult.sequenceScore()});
        }
    }

    /** The options the reference ran with: the config's, overridden by the case's {@code kwargs}. */
    static GenerationOptions options(GoldenText golden, JsonNode kwargs) {
        return GenerationOptions.fromConfig(golden.config().text(), kwargs.get("max_new_tokens").asInt())
                .withNumBeams(kwargs.get("num_beams").asInt());
    }

    /** Greedy ids up to the recorded float32 near-tie (top-2 margin < 1e-3), as {@link GoldenIds#assertGreedy}. */
    private static void assertGreedy(String id, JsonNode greedy, SafetensorsFile arrays, int[] actual) {
        JsonNode tie = greedy.get("first_near_tie_step(margin<1e-3)");
        GoldenIds.assertGreedy(id, GoldenText.ints(greedy.get("sequence")), tie.isNull() ? -1 : tie.asInt(),
                GoldenText.ints(arrays.tensor("greedy_step_top5_ids")), actual);
    }
}
