package org.florence2j.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.TextConfig;
import org.florence2j.model.RecordingTaps;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The language model at configurations unlike the tiny golden model's (encoder and decoder with different heads,
 * depths and widths, a decoder ffn narrower than the model, a stored head unlike {@code shared} with a logits bias,
 * a head tied by absence with no bias, small vocabularies, inputs as long as the learned positions) against a numpy
 * port of the reference ({@code ported/text/}, see its README), on the reference and CPU backends: the encoder input
 * built from the case's image features and prompt ids, and the encoder state, within the stage tolerance; the
 * decoder's logits for the case's ids over the port's encoder state, fed in one step and then one id per step,
 * within the logits tolerance.
 */
class PortedTextConfigsTest {
    static Stream<Arguments> cases() throws IOException, URISyntaxException {
        Path root = Path.of(PortedTextConfigsTest.class.getResource("/ported/text").toURI());
        List<Arguments> cases = new ArrayList<>();
        for (String model : List.of("C", "D")) {
            try (Stream<Path> files = Files.list(root.resolve(model))) {
                for (Path file : files.filter(f -> f.getFileName().toString().startsWith("case_")).sorted().toList()) {
                    for (String backend : List.of("reference", "cpu")) {
                        cases.add(Arguments.of(backend, model + "/" + file.getFileName(), file));
                    }
                }
            }
        }
        assertEquals(8, cases.size());
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void encoderAndDecoderMatchThePort(String backendName, String name, Path caseFile) {
        Path folder = caseFile.getParent();
        TextConfig config = ConfigReader.read(folder.resolve("config.json")).text();
        try (SafetensorsFile checkpoint = SafetensorsFile.open(folder.resolve("model.safetensors"));
                SafetensorsFile expected = SafetensorsFile.open(caseFile);
                Backend backend = GoldenText.openBackend(backendName);
                Arena arena = Arena.ofShared()) {
            BartModel model = BartModel.load(Weights.of(checkpoint).at("language_model"), config, backend, arena);
            String id = backendName + " " + name + " ";
            assertEncoder(model, backend, arena, expected, id);
            assertDecoder(model.decoder(), backend, arena, expected, id);
        }
    }

    /** Builds the encoder input as a request does (image features ++ {@code shared[prompt]}) and encodes it. */
    private static void assertEncoder(BartModel model, Backend backend, Arena arena, SafetensorsFile expected,
            String id) {
        Tensor features = expected.tensor("image_features");
        int[] prompt = GoldenText.ints(expected.tensor("input_ids"));
        int tokens = features.shape().dim(1) + prompt.length;
        BartEncoder encoder = model.encoder();
        BartEncoder.Workspace workspace = encoder.newWorkspace(backend, arena, tokens);
        Tensor prompts = workspace.temporary(prompt.length);
        model.decoder().embedTokens(backend, prompts, Tensor.ofInts(new Shape(1, prompt.length), arena, prompt));
        Tensor input = workspace.input(tokens);
        backend.concatTokens(input, backend.upload(features, DType.F32, arena), prompts);
        try (RecordingTaps taps = new RecordingTaps(backend)) {
            taps.tap("encoder_inputs_embeds", input);
            encoder.forward(backend, taps, input, workspace.output(tokens), workspace);
            for (String tap : List.of("encoder_inputs_embeds", "encoder_last_hidden_state")) {
                Tolerance.assertStageClose(id + tap, expected.tensor(tap), taps.get(tap));
            }
        }
    }

    /** Teacher-forced logits in one step, then the same ids one per step over a fresh cache. */
    private static void assertDecoder(BartDecoder decoder, Backend backend, Arena arena, SafetensorsFile expected,
            String id) {
        Tensor states = backend.upload(expected.tensor("encoder_last_hidden_state"), DType.F32, arena);
        int[] ids = GoldenText.ints(expected.tensor("decoder_input_ids"));
        int positions = ids.length;
        int vocabulary = decoder.vocabulary();
        List<CrossGroup> groups = List.of(new CrossGroup(0, 1, states.shape().dim(1)));
        BartDecoder.Workspace workspace = decoder.newWorkspace(backend, arena, 1, positions);
        Tensor expectedLogits = expected.tensor("decoder_logits");

        KvCache cache = crossAttended(decoder, backend, arena, states, groups, positions);
        BartDecoder.StepBuffers step = workspace.prepare(1, positions, groups, 1);
        for (int t = 0; t < positions; t++) {
            step.setToken(0, t, ids[t]);
        }
        decoder.forward(backend, Taps.NONE, step, cache, 0);
        Tensor logits = Tensor.allocateHost(DType.F32, new Shape(1, positions, vocabulary), arena);
        backend.download(step.logits(), logits);
        Tolerance.LOGITS_F32.assertClose(id + "decoder_logits in one step", expectedLogits, logits);

        KvCache stepCache = crossAttended(decoder, backend, arena, states, groups, positions);
        float[] expectedRows = expectedLogits.toFloatArray();
        Tensor row = Tensor.allocateHost(DType.F32, new Shape(1, 1, vocabulary), arena);
        for (int t = 0; t < positions; t++) {
            BartDecoder.StepBuffers single = workspace.prepare(1, 1, groups, 1);
            single.setToken(0, 0, ids[t]);
            decoder.forward(backend, Taps.NONE, single, stepCache, t);
            backend.download(single.logits(), row);
            Tolerance.LOGITS_F32.assertClose(id + "decoder_logits at step " + t,
                    Arrays.copyOfRange(expectedRows, t * vocabulary, (t + 1) * vocabulary), row.toFloatArray());
        }
    }

    /** A new cache for one row of {@code positions} positions holding the cross K/V of {@code states}. */
    private static KvCache crossAttended(BartDecoder decoder, Backend backend, Arena arena, Tensor states,
            List<CrossGroup> groups, int positions) {
        KvCache cache = KvCache.allocate(backend, arena, decoder.layerCount(), decoder.channels(), decoder.heads(), 1,
                positions, 1, states.shape().dim(1));
        cache.prepare(1, groups);
        decoder.computeCrossKeyValues(backend, states, 0, cache);
        return cache;
    }
}
