package org.florence2j.model.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.RecordingTaps;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vision tower and projection at configurations unlike the tiny golden model's (an empty stage, heads unlike
 * groups, odd windows and patch geometry, two stages, windows larger than the maps, non-square and batched images,
 * and a native-format model where the native code computes differently from the remote code), every stage's output
 * and the image features against a numpy port of the references ({@code ported/vision/}, see its README), within the
 * stage tolerance the goldens use, on the reference and CPU backends.
 */
class PortedVisionConfigsTest {
    static Stream<Arguments> cases() throws IOException, URISyntaxException {
        Path root = Path.of(PortedVisionConfigsTest.class.getResource("/ported/vision").toURI());
        List<Arguments> cases = new ArrayList<>();
        for (String model : List.of("A", "B", "N")) {
            try (Stream<Path> files = Files.list(root.resolve(model))) {
                for (Path file : files.filter(f -> f.getFileName().toString().startsWith("case_")).sorted().toList()) {
                    for (String backend : List.of("reference", "cpu")) {
                        cases.add(Arguments.of(backend, model + "/" + file.getFileName(), file));
                    }
                }
            }
        }
        assertEquals(22, cases.size());
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void stagesAndFeaturesMatchThePort(String backendName, String name, Path caseFile) {
        try (LoadedCheckpoint checkpoint = Checkpoints.open(caseFile.getParent());
                SafetensorsFile expected = SafetensorsFile.open(caseFile);
                Backend backend = GoldenText.openBackend(backendName);
                Arena arena = Arena.ofShared()) {
            Florence2Config config = checkpoint.config();
            Weights weights = Weights.of(checkpoint.checkpoint());
            DaViT davit = DaViT.load(weights.at("vision_tower"), config.vision(), backend, arena);
            ImageProjector projector = ImageProjector.load(weights, config, backend, arena);
            try (RecordingTaps taps = new RecordingTaps(backend); Arena request = Arena.ofConfined()) {
                ForwardContext context = new ForwardContext(backend, request, taps);
                Tensor pixels = backend.upload(expected.tensor("pixel_values"), DType.F32, request);
                Shape shape = pixels.shape();
                Tensor tokens = context.allocate(davit.outputShape(shape.dim(0), shape.dim(2), shape.dim(3)));
                davit.forward(context, pixels, tokens);
                List<String> compared = new ArrayList<>();
                for (int stage = 0; stage < config.vision().stages(); stage++) {
                    compared.add("davit_stage" + stage + "_after_conv");
                    compared.add("davit_stage" + stage + "_out");
                }
                if (expected.find("image_features").isPresent()) {
                    Tensor features = context.allocate(projector.outputShape(shape.dim(0), tokens.shape().dim(1)));
                    projector.forward(context, tokens, davit.outputSize(shape.dim(2)), davit.outputSize(shape.dim(3)),
                            features);
                    compared.add("image_features");
                }
                for (String tap : compared) {
                    Tolerance.assertStageClose(backendName + " " + name + " " + tap, expected.tensor(tap),
                            taps.get(tap));
                }
            }
        }
    }
}
