package org.florence2j.model.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.RecordingTaps;
import org.florence2j.model.Taps;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vision tower and image projection against the reference's goldens (golden/tiny, produced by the genuine
 * remote code), on every backend: every DaViT tap and {@code image_features} of every golden image, within the
 * golden README's stage tolerance (abs 2e-4, or 1e-4 of the tensor's max-abs).
 */
class VisionGoldenTest {
    static final Path TINY = Path.of("src/test/resources/golden/tiny");

    private static Florence2Config config;
    private static SafetensorsFile checkpoint;
    private static final Map<String, Loaded> LOADED = new LinkedHashMap<>();

    /** The tower and projection loaded on one backend. */
    private record Loaded(Backend backend, Arena arena, DaViT davit, ImageProjector projector) {}

    @BeforeAll
    static void load() {
        config = ConfigReader.read(TINY.resolve("model/config.json"));
        checkpoint = SafetensorsFile.open(TINY.resolve("model/model.safetensors"));
    }

    @AfterAll
    static void close() {
        for (Loaded loaded : LOADED.values()) {
            loaded.arena().close();
            loaded.backend().close();
        }
        LOADED.clear();
        checkpoint.close();
    }

    /**
     * The tower and projection on backend {@code name}, loaded by its first test and kept for the rest; opening
     * CUDA where it is unavailable aborts the calling test with the reason.
     */
    private static Loaded loaded(String name) {
        return LOADED.computeIfAbsent(name, n -> {
            Backend backend = GoldenText.openBackend(n);
            Arena arena = Arena.ofShared();
            try {
                Weights root = Weights.of(checkpoint);
                return new Loaded(backend, arena,
                        DaViT.load(root.at("vision_tower"), config.vision(), backend, arena),
                        ImageProjector.load(root, config, backend, arena));
            } catch (RuntimeException e) {
                arena.close();
                backend.close();
                throw e;
            }
        });
    }

    static List<Path> images() throws IOException {
        try (Stream<Path> files = Files.list(TINY.resolve("cases"))) {
            List<Path> images = files.filter(p -> p.getFileName().toString().startsWith("image")).sorted().toList();
            assertEquals(4, images.size(), "golden images in " + TINY.resolve("cases"));
            return images;
        }
    }

    static Stream<Arguments> backendsAndImages() throws IOException {
        List<Arguments> arguments = new ArrayList<>();
        for (String backend : GoldenText.BACKENDS) {
            for (Path image : images()) {
                arguments.add(Arguments.of(backend, image));
            }
        }
        return arguments.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndImages")
    void everyTapMatchesTheReference(String backendName, Path caseFile) {
        Loaded loaded = loaded(backendName);
        Backend backend = loaded.backend();
        try (SafetensorsFile golden = SafetensorsFile.open(caseFile);
                RecordingTaps taps = new RecordingTaps(backend);
                Arena request = Arena.ofConfined()) {
            ForwardContext ctx = new ForwardContext(backend, request, taps);
            Tensor pixels = backend.upload(golden.tensor("pixel_values"), DType.F32, request);
            Shape pixelShape = pixels.shape();
            DaViT davit = loaded.davit();
            Tensor tokens = ctx.allocate(davit.outputShape(pixelShape.dim(0), pixelShape.dim(2), pixelShape.dim(3)));
            davit.forward(ctx, pixels, tokens);
            Tensor features = ctx.allocate(loaded.projector().outputShape(pixelShape.dim(0), tokens.shape().dim(1)));
            loaded.projector().forward(ctx, tokens, davit.outputSize(pixelShape.dim(2)),
                    davit.outputSize(pixelShape.dim(3)), features);

            List<String> names = new ArrayList<>();
            for (int stage = 0; stage < config.vision().stages(); stage++) {
                names.add("davit_stage" + stage + "_after_conv");
                names.add("davit_stage" + stage + "_out");
            }
            names.add("image_features");
            for (String name : names) {
                Tensor recorded = taps.get(name);
                assertNotNull(recorded, "tap " + name + " was not recorded");
                Tolerance.assertStageClose(backendName + " " + caseFile.getFileName() + " " + name,
                        golden.tensor(name), recorded);
            }
        }
    }

    /**
     * A session lends its text scratch to the tower ({@code DaViT.newScratch(…, lent)}): slots placed there must
     * give the same taps although the memory holds another phase's data (NaN here), and the lent memory must be used.
     */
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void aScratchPartlyInLentMemoryGivesTheReferenceTaps(String backendName) throws IOException {
        Loaded loaded = loaded(backendName);
        Backend backend = loaded.backend();
        Path caseFile = images().get(0);
        try (SafetensorsFile golden = SafetensorsFile.open(caseFile);
                RecordingTaps taps = new RecordingTaps(backend);
                Arena request = Arena.ofConfined()) {
            ForwardContext ctx = new ForwardContext(backend, request, taps);
            Tensor pixels = backend.upload(golden.tensor("pixel_values"), DType.F32, request);
            Shape pixelShape = pixels.shape();
            // As big as the pixels: room for some slots (the small late-stage ones), not for the stage-0 maps.
            int lentElements = Math.toIntExact(pixelShape.elementCount());
            Tensor hostLent = Tensor.allocateHost(DType.F32, Shape.of(lentElements), request);
            Tensor lent = nanFilled(backend, hostLent, request);
            DaViT davit = loaded.davit();
            VisionScratch scratch = davit.newScratch(ctx, pixelShape.dim(0), pixelShape.dim(2), pixelShape.dim(3),
                    lent);
            assertStagesMatch(backendName + " lent scratch", davit, ctx, pixels, scratch, golden, taps);
            backend.download(lent, hostLent);
            float[] values = hostLent.memory().toArray(ValueLayout.JAVA_FLOAT);
            assertTrue(IntStream.range(0, values.length).anyMatch(i -> !Float.isNaN(values[i])),
                    "no slot was placed in the lent memory");
        }
    }

    /**
     * {@code DaViT.scratchElements} is exactly what the scratch needs: lent that much (NaN-filled), the scratch
     * allocates nothing and the tower gives the reference's taps; lent one element less, it must allocate.
     */
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void aScratchLentScratchElementsAllocatesNothing(String backendName) throws IOException {
        Loaded loaded = loaded(backendName);
        Backend backend = loaded.backend();
        try (SafetensorsFile golden = SafetensorsFile.open(images().get(0));
                RecordingTaps taps = new RecordingTaps(backend);
                Arena request = Arena.ofConfined()) {
            ForwardContext ctx = new ForwardContext(backend, request, taps);
            Tensor pixels = backend.upload(golden.tensor("pixel_values"), DType.F32, request);
            Shape p = pixels.shape();
            DaViT davit = loaded.davit();
            int elements = Math.toIntExact(davit.scratchElements(backend, p.dim(0), p.dim(2), p.dim(3)));
            Tensor lent = nanFilled(backend, Tensor.allocateHost(DType.F32, Shape.of(elements), request), request);
            ForwardContext refusing = new ForwardContext(backend, new RefusingArena(), Taps.NONE);
            VisionScratch scratch = davit.newScratch(refusing, p.dim(0), p.dim(2), p.dim(3), lent);
            assertThrows(IllegalStateException.class, () -> davit.newScratch(refusing, p.dim(0), p.dim(2), p.dim(3),
                    lent.narrow(0, elements - 1)));
            assertStagesMatch(backendName + " wholly lent scratch", davit, ctx, pixels, scratch, golden, taps);
        }
    }

    /** Runs the tower on {@code pixels} with {@code scratch} and compares every stage's output with the golden. */
    private static void assertStagesMatch(String label, DaViT davit, ForwardContext ctx, Tensor pixels,
            VisionScratch scratch, SafetensorsFile golden, RecordingTaps taps) {
        Shape p = pixels.shape();
        Tensor tokens = ctx.allocate(davit.outputShape(p.dim(0), p.dim(2), p.dim(3)));
        davit.forward(ctx, pixels, tokens, scratch);
        for (int stage = 0; stage < config.vision().stages(); stage++) {
            String name = "davit_stage" + stage + "_out";
            Tolerance.assertStageClose(label + " " + name, golden.tensor(name), taps.get(name));
        }
    }

    /** Fills {@code host} with NaN (every byte 0xff) and returns a copy of it on {@code backend}. */
    private static Tensor nanFilled(Backend backend, Tensor host, Arena arena) {
        host.memory().fill((byte) 0xff);
        Tensor copy = backend.allocate(DType.F32, host.shape(), arena);
        backend.write(copy, host);
        return copy;
    }

    /**
     * An arena that refuses to allocate: what must not allocate fails with an {@link IllegalStateException}. Host
     * memory comes from {@link #allocate}, which says the size asked for; device memory is allocated by the backend
     * and only tied to the arena's scope, which is closed, so tying it fails (and the backend frees it).
     */
    private static final class RefusingArena implements Arena {
        private static final MemorySegment.Scope CLOSED = closedScope();

        private static MemorySegment.Scope closedScope() {
            Arena arena = Arena.ofShared();
            arena.close();
            return arena.scope();
        }

        @Override
        public MemorySegment allocate(long byteSize, long byteAlignment) {
            throw new IllegalStateException("allocated " + byteSize + " bytes");
        }

        @Override
        public MemorySegment.Scope scope() {
            return CLOSED;
        }

        @Override
        public void close() {}
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void aBatchOfImagesGivesEachImagesFeatures(String backendName) throws IOException {
        Loaded loaded = loaded(backendName);
        Backend backend = loaded.backend();
        List<Path> cases = images();
        List<SafetensorsFile> goldens = new ArrayList<>();
        try (Arena request = Arena.ofConfined()) {
            for (Path file : cases) {
                goldens.add(SafetensorsFile.open(file));
            }
            ForwardContext ctx = new ForwardContext(backend, request, Taps.NONE);
            Shape single = goldens.get(0).tensor("pixel_values").shape(); // [1, 3, height, width]
            Tensor batch = ctx.allocate(single.withDim(0, cases.size()));
            for (int i = 0; i < cases.size(); i++) {
                GoldenText.copyIn(backend, batch.narrow(i, 1), goldens.get(i).tensor("pixel_values"));
            }
            Tensor tokens = ctx.allocate(loaded.davit().outputShape(cases.size(), single.dim(2), single.dim(3)));
            loaded.davit().forward(ctx, batch, tokens);
            Tensor features = ctx.allocate(loaded.projector().outputShape(cases.size(), tokens.shape().dim(1)));
            loaded.projector().forward(ctx, tokens, loaded.davit().outputSize(single.dim(2)),
                    loaded.davit().outputSize(single.dim(3)), features);
            Tensor host = Tensor.allocateHost(DType.F32, features.shape(), request);
            backend.download(features, host);
            for (int i = 0; i < cases.size(); i++) {
                Tolerance.assertStageClose(backendName + " batch row " + i + " (" + cases.get(i).getFileName()
                        + ") image_features", goldens.get(i).tensor("image_features"), host.narrow(i, 1));
            }
        } finally {
            goldens.forEach(SafetensorsFile::close);
        }
    }
}
