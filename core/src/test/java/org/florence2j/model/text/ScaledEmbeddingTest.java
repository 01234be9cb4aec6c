package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.TextConfig;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code scale_embedding=true}: the decoder multiplies its token embeddings by {@code sqrt(d_model)} (the
 * reference's {@code Florence2ScaledWordEmbedding}) while the tied LM head keeps reading {@code shared} unscaled.
 * Teacher-forced logits over a golden case's encoder states equal those of the same decoder stored the other way
 * round: {@code shared} pre-scaled, {@code scale_embedding=false}, and the unscaled table as an untied
 * {@code lm_head}.
 */
class ScaledEmbeddingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int POSITIONS = 3;
    private static final String SHARED = "language_model.model.shared.weight";
    private static final String LM_HEAD = "language_model.lm_head.weight";

    /** {@code base} with some tensors replaced. */
    private record ReplacedCheckpoint(Checkpoint base, Map<String, Tensor> replaced) implements Checkpoint {
        @Override
        public Set<String> names() {
            return base.names();
        }

        @Override
        public Optional<Tensor> find(String name) {
            return replaced.containsKey(name) ? Optional.of(replaced.get(name)) : base.find(name);
        }

        @Override
        public Path fileOf(String name) {
            return base.fileOf(name);
        }

        @Override
        public void close() {}
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"reference", "cpu"})
    void theDecoderScalesItsTokenEmbeddingsButNotTheHead(String backendName) throws IOException {
        Path root = GoldenText.goldenRoot();
        Path configFile = root.resolve("model/config.json");
        ObjectNode json = (ObjectNode) JSON.readTree(configFile.toFile());
        ((ObjectNode) json.get("text_config")).put("scale_embedding", true);
        TextConfig scaledConfig = ConfigReader.parse(json).text();
        TextConfig plainConfig = ConfigReader.read(configFile).text();
        float scale = (float) Math.sqrt(plainConfig.dModel());
        try (Backend backend = GoldenText.openBackend(backendName); GoldenText golden = new GoldenText(backend);
                Arena arena = Arena.ofShared();
                SafetensorsFile file = SafetensorsFile.open(root.resolve("model/model.safetensors"))) {
            Tensor shared = file.tensor(SHARED);
            Tensor prescaled = Tensor.allocateHost(DType.F32, shared.shape(), arena);
            for (long i = 0; i < shared.elementCount(); i++) {
                prescaled.setFloat(i, shared.getFloat(i) * scale);
            }
            Checkpoint rewritten = new ReplacedCheckpoint(file, Map.of(SHARED, prescaled, LM_HEAD, shared));
            BartDecoder scaled = BartModel.load(Weights.of(file).at("language_model"), scaledConfig, backend, arena)
                    .decoder();
            BartDecoder stored = BartModel.load(Weights.of(rewritten).at("language_model"), plainConfig, backend,
                    arena).decoder();
            JsonNode goldenCase = golden.cases().get(0);
            float[] scaledLogits = logits(golden, scaled, goldenCase);
            float[] storedLogits = logits(golden, stored, goldenCase);
            float[] plainLogits = logits(golden, golden.model().decoder(), goldenCase);
            Tolerance.LOGITS_F32.assertClose(backendName + " scaled vs pre-scaled", storedLogits, scaledLogits);
            double largest = 0;
            for (int i = 0; i < plainLogits.length; i++) {
                largest = Math.max(largest, Math.abs(plainLogits[i] - scaledLogits[i]));
            }
            assertTrue(largest > 0.1, "scaling moved no logit: " + largest);
        }
    }

    /** Teacher-forced logits of the case's first decoder ids over its golden encoder states. */
    private static float[] logits(GoldenText golden, BartDecoder decoder, JsonNode goldenCase) {
        Backend backend = golden.backend();
        Arena arena = golden.arena();
        KvCache cache = KvCache.allocate(backend, arena, decoder.layerCount(), decoder.channels(), decoder.heads(),
                1, POSITIONS, 1, 64);
        BartEncoder.Workspace encoderWorkspace = golden.model().encoder().newWorkspace(backend, arena, 64);
        try (SafetensorsFile arrays = golden.arrays(goldenCase)) {
            Tensor states = arrays.tensor("encoder_last_hidden_state");
            int tokens = states.shape().dim(1);
            Tensor encoderOut = encoderWorkspace.output(tokens);
            GoldenText.copyIn(backend, encoderOut, states);
            List<CrossGroup> groups = List.of(new CrossGroup(0, 1, tokens));
            cache.prepare(1, groups);
            decoder.computeCrossKeyValues(backend, encoderOut, 0, cache);
            BartDecoder.StepBuffers step = decoder.newWorkspace(backend, arena, 1, POSITIONS)
                    .prepare(1, POSITIONS, groups, 1);
            int[] ids = GoldenText.ints(goldenCase.get("decoder_input_ids"));
            for (int t = 0; t < POSITIONS; t++) {
                step.setToken(0, t, ids[t]);
            }
            decoder.forward(backend, Taps.NONE, step, cache, 0);
            Tensor logits = Tensor.allocateHost(DType.F32, new Shape(1, POSITIONS, decoder.vocabulary()), arena);
            backend.download(step.logits(), logits);
            return logits.toFloatArray();
        }
    }
}
