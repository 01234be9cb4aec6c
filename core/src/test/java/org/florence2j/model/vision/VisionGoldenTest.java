package org.florence2j.model.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.RecordingTaps;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vision tower and image projection against the reference's goldens (golden/tiny, produced by the genuine
 * remote code): every DaViT tap and {@code image_features} of every golden image, within the golden README's stage
 * tolerance (abs 2e-4, or 1e-4 of the tensor's max-abs).
 */
class VisionGoldenTest {
    static final Path TINY = Path.of("src/test/resources/golden/tiny");

    private static Florence2Config config;
    private static SafetensorsFile checkpoint;
    private static Backend backend;
    private static Arena modelArena;
    private static DaViT davit;
    private static ImageProjector projector;

    @BeforeAll
    static void load() {
        config = ConfigReader.read(TINY.resolve("model/config.json"));
        checkpoint = SafetensorsFile.open(TINY.resolve("model/model.safetensors"));
        backend = new ReferenceBackend();
        modelArena = Arena.ofShared();
        Weights root = Weights.of(checkpoint);
        davit = DaViT.load(root.at("vision_tower"), config.vision(), backend, modelArena);
        projector = ImageProjector.load(root, config, backend, modelArena);
    }

    @AfterAll
    static void close() {
        modelArena.close();
        backend.close();
        checkpoint.close();
    }

    static Stream<Path> images() throws IOException {
        try (Stream<Path> files = Files.list(TINY.resolve("cases"))) {
            List<Path> images = new ArrayList<>(files.filter(p -> p.getFileName().toString().startsWith("image"))
                    .sorted().toList());
            assertEquals(4, images.size(), "golden images in " + TINY.resolve("cases"));
            return images.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("images")
    void everyTapMatchesTheReference(Path caseFile) {
        try (SafetensorsFile golden = SafetensorsFile.open(caseFile);
                RecordingTaps taps = new RecordingTaps(backend);
                Arena request = Arena.ofConfined()) {
            ForwardContext ctx = new ForwardContext(backend, request, taps);
            Tensor pixels = backend.upload(golden.tensor("pixel_values"), DType.F32, request);
            Shape pixelShape = pixels.shape();
            Tensor tokens = ctx.allocate(davit.outputShape(pixelShape.dim(0), pixelShape.dim(2), pixelShape.dim(3)));
            davit.forward(ctx, pixels, tokens);
            Tensor features = ctx.allocate(projector.outputShape(pixelShape.dim(0), tokens.shape().dim(1)));
            projector.forward(ctx, tokens, features);

            List<String> names = new ArrayList<>();
            for (int stage = 0; stage < config.vision().stages(); stage++) {
                names.add("davit_stage" + stage + "_after_conv");
                names.add("davit_stage" + stage + "_out");
            }
            names.add("image_features");
            for (String name : names) {
                Tensor recorded = taps.get(name);
                assertNotNull(recorded, "tap " + name + " was not recorded");
                Tolerance.assertStageClose(caseFile.getFileName() + " " + name, golden.tensor(name), recorded);
            }
        }
    }

    @Test
    void aBatchOfImagesGivesEachImagesFeatures() throws IOException {
        List<Path> cases = images().toList();
        try (Arena request = Arena.ofConfined()) {
            ForwardContext ctx = new ForwardContext(backend, request, Taps.NONE);
            List<SafetensorsFile> goldens = new ArrayList<>();
            try {
                for (Path file : cases) {
                    goldens.add(SafetensorsFile.open(file));
                }
                Shape single = goldens.get(0).tensor("pixel_values").shape(); // [1, 3, height, width]
                Tensor batch = Tensor.allocateHost(DType.F32, single.withDim(0, cases.size()), request);
                for (int i = 0; i < cases.size(); i++) {
                    backend.copy(batch.narrow(i, 1), goldens.get(i).tensor("pixel_values"));
                }
                Tensor tokens = ctx.allocate(davit.outputShape(cases.size(), single.dim(2), single.dim(3)));
                davit.forward(ctx, batch, tokens);
                Tensor features = ctx.allocate(projector.outputShape(cases.size(), tokens.shape().dim(1)));
                projector.forward(ctx, tokens, features);
                Tensor host = Tensor.allocateHost(DType.F32, features.shape(), request);
                backend.download(features, host);
                for (int i = 0; i < cases.size(); i++) {
                    Tolerance.assertStageClose("batch row " + i + " (" + cases.get(i).getFileName()
                            + ") image_features", goldens.get(i).tensor("image_features"), host.narrow(i, 1));
                }
            } finally {
                goldens.forEach(SafetensorsFile::close);
            }
        }
    }
}
