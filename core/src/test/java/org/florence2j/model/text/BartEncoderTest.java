package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.model.RecordingTaps;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The BART encoder against every golden case, on every backend of {@link GoldenText#BACKENDS}: from the
 * reference's {@code encoder_inputs_embeds} to its {@code encoder_last_hidden_state}, within the README's stage
 * tolerance (abs 2e-4 or 1e-4 of max-abs).
 */
class BartEncoderTest {
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void encoderMatchesEveryGoldenCase(String backendName) {
        try (GoldenText golden = GoldenText.open(backendName)) {
            BartEncoder encoder = golden.model().encoder();
            BartEncoder.Workspace workspace = encoder.newWorkspace(golden.backend(), golden.arena(), 64);
            List<JsonNode> cases = golden.cases();
            for (JsonNode goldenCase : cases) {
                String id = backendName + " " + goldenCase.get("id").asText();
                try (SafetensorsFile arrays = golden.arrays(goldenCase);
                        RecordingTaps taps = new RecordingTaps(golden.backend())) {
                    Tensor embeds = arrays.tensor("encoder_inputs_embeds");
                    int tokens = embeds.shape().dim(1);
                    Tensor input = workspace.input(tokens);
                    golden.backend().copy(input, embeds);
                    encoder.forward(golden.backend(), taps, input, workspace.output(tokens), workspace);
                    Tolerance.assertStageClose(id + " encoder_last_hidden_state",
                            arrays.tensor("encoder_last_hidden_state"), taps.get("encoder_last_hidden_state"));
                }
            }
            assertEquals(60, cases.size(), "golden cases");
        }
    }
}
