package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * Teacher-forced decoder logits against every golden case: the reference's {@code decoder_input_ids} (three
 * positions) fed in one step over the golden encoder states, on every backend of {@link GoldenText#BACKENDS}; full
 * logits where the case has them, and the reference's top-10 logits (values at its ids) for every case, within abs
 * 5e-4. (Step-by-step decoding over a growing cache is {@code GenerationGoldenTest}'s.)
 */
class BartDecoderTest {
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void teacherForcedLogitsMatchEveryGoldenCase(String backendName) {
        try (GoldenText golden = GoldenText.open(backendName)) {
            assertEveryCase(golden, backendName);
        }
    }

    private static void assertEveryCase(GoldenText golden, String backendName) {
        BartDecoder decoder = golden.model().decoder();
        int vocabulary = decoder.vocabulary();
        int positions = 3;
        KvCache cache = KvCache.allocate(golden.backend(), golden.arena(), decoder.layerCount(), decoder.channels(),
                decoder.heads(), 1, positions, 1, 64);
        BartDecoder.Workspace workspace = decoder.newWorkspace(golden.backend(), golden.arena(), 1, positions);
        BartEncoder.Workspace encoderWorkspace = golden.model().encoder().newWorkspace(golden.backend(),
                golden.arena(), 64);
        int fullCases = 0;
        for (JsonNode goldenCase : golden.cases()) {
            String id = backendName + " " + goldenCase.get("id").asText();
            try (SafetensorsFile arrays = golden.arrays(goldenCase)) {
                Tensor states = arrays.tensor("encoder_last_hidden_state");
                int tokens = states.shape().dim(1);
                Tensor encoderOut = encoderWorkspace.output(tokens);
                GoldenText.copyIn(golden.backend(), encoderOut, states);
                List<CrossGroup> groups = List.of(new CrossGroup(0, 1, tokens));
                cache.prepare(1, groups);
                decoder.computeCrossKeyValues(golden.backend(), encoderOut, 0, cache);
                BartDecoder.StepBuffers step = workspace.prepare(1, positions, groups, 1);
                int[] ids = GoldenText.ints(goldenCase.get("decoder_input_ids"));
                for (int t = 0; t < positions; t++) {
                    step.setToken(0, t, ids[t]);
                }
                decoder.forward(golden.backend(), Taps.NONE, step, cache, 0);
                Tensor logits = Tensor.allocateHost(DType.F32, new Shape(1, positions, vocabulary), golden.arena());
                golden.backend().download(step.logits(), logits);
                if (goldenCase.get("has_full_logits").asBoolean()) {
                    Tolerance.LOGITS_F32.assertClose(id + " decoder_logits", arrays.tensor("decoder_logits"), logits);
                    fullCases++;
                }
                int[] topIds = GoldenText.ints(arrays.tensor("decoder_logits_top10_ids"));
                float[] topValues = arrays.tensor("decoder_logits_top10_values").toFloatArray();
                float[] atTop = new float[topIds.length];
                for (int i = 0; i < topIds.length; i++) {
                    int position = i / 10;
                    atTop[i] = logits.getFloat((long) position * vocabulary + topIds[i]);
                }
                Tolerance.LOGITS_F32.assertClose(id + " decoder_logits at the reference's top-10 ids", topValues,
                        atTop);
            }
        }
        assertTrue(fullCases >= 15, backendName + " cases with full logits: " + fullCases);
    }
}
