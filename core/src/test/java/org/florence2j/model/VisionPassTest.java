package org.florence2j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepGraph;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A session's vision tower goes through a step graph of its own, one variant per batch and image size, into buffers
 * it keeps, unless the taps read inside the tower; either way the features are the reference's. On the CPU a
 * recording graph shows what the session issues through it; on CUDA the passes after a shape's first are captured
 * and replayed graphs.
 */
class VisionPassTest {
    private static final Path ROOT = GoldenText.goldenRoot();

    /** A step graph that runs the ops as they come and records its calls. */
    private static final class RecordingGraph implements StepGraph {
        final List<Integer> runs = new ArrayList<>();
        int resets;
        boolean running;

        @Override
        public void run(int variant, Runnable ops) {
            StepGraph.checkVariant(variant);
            runs.add(variant);
            running = true;
            try {
                ops.run();
            } finally {
                running = false;
            }
        }

        @Override
        public void reset() {
            resets++;
        }

        @Override
        public void close() {}
    }

    /** Taps that record {@code image_features} and the names they are given, and say whether they read the tower. */
    private static final class FeatureTaps implements Taps, AutoCloseable {
        private final boolean readsTower;
        private final Backend backend;
        private final Arena arena = Arena.ofConfined();
        final List<String> names = new ArrayList<>();
        Tensor features;

        FeatureTaps(Backend backend, boolean readsTower) {
            this.backend = backend;
            this.readsTower = readsTower;
        }

        @Override
        public void tap(String name, Tensor tensor) {
            names.add(name);
            if (name.equals("image_features")) {
                features = Tensor.allocateHost(DType.F32, tensor.shape(), arena);
                backend.download(tensor, features);
            }
        }

        @Override
        public boolean readsVisionTower() {
            return readsTower;
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    @Test
    void passesGoThroughTheirGraphOneVariantPerShapeUnlessTheTapsReadTheTower() throws Exception {
        List<RecordingGraph> graphs = new ArrayList<>();
        int[] convolutionsInGraphs = new int[2]; // [outside a graph run, inside one]
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            Backend recording = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                    new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                        if (method.getName().equals("newStepGraph")) {
                            RecordingGraph graph = new RecordingGraph();
                            graphs.add(graph);
                            return graph;
                        }
                        if (method.getName().equals("conv2d")) {
                            convolutionsInGraphs[graphs.stream().anyMatch(g -> g.running) ? 1 : 0]++;
                        }
                        try {
                            return method.invoke(cpu, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            withGolden(recording, (model, index, options, session) -> {
                try (Arena arena = Arena.ofConfined()) {
                    Tensor four = Florence2ModelTest.goldenPixels(ROOT, index, arena); // [4, 3, 96, 96]

                    encodeAndCheck(recording, session, index, four, 0, 1, options, false);
                    RecordingGraph vision = graphs.stream().filter(g -> !g.runs.isEmpty()).findFirst().orElseThrow();
                    encodeAndCheck(recording, session, index, four, 1, 1, options, false);
                    assertEquals(List.of(0, 0), vision.runs, "one image twice: the same variant");
                    assertEquals(0, convolutionsInGraphs[0], "convolutions issued outside the graph");

                    FeatureTaps reading = encodeAndCheck(recording, session, index, four, 2, 1, options, true);
                    assertEquals(2, vision.runs.size(), "taps reading the tower must bypass its graph");
                    assertTrue(reading.names.contains("davit_stage2_out"), "taps given: " + reading.names);
                    assertTrue(convolutionsInGraphs[0] > 0, "the reading pass issued no convolution of its own");

                    int resetsBefore = vision.resets;
                    encodeAndCheck(recording, session, index, four, 0, 4, options, false);
                    assertTrue(vision.resets > resetsBefore, "buffers grown for four images, graph not reset");
                    encodeAndCheck(recording, session, index, four, 3, 1, options, false);
                    assertEquals(List.of(0, 0, 0, 1), vision.runs,
                            "after the reset, four images take variant 0 and one image variant 1");
                }
            });
            assertEquals(2, graphs.size(), "the session's graphs: decode steps and vision passes");
        }
    }

    /**
     * Images kept at their own aspect ratios: a tall image after a wide one gets buffers for its own size, not for
     * the tallest height times the widest width (which, at 12,800 × 32 pixels, took gigabytes).
     */
    @Test
    void aTallImageAfterAWideOneDoesNotGrowTheBuffersToBoth() throws Exception {
        List<Long> allocations = new ArrayList<>();
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            Backend counting = watched(cpu, (method, args) -> {
                if (method.equals("allocate")) {
                    allocations.add(((Shape) args[1]).elementCount());
                }
            });
            withGolden(counting, (model, index, options, session) -> {
                try (Arena arena = Arena.ofConfined();
                        VisionPass pass = new VisionPass(counting, model.davit(), null)) {
                    pass.run(Tensor.allocateHost(DType.F32, new Shape(1, 3, 32, 512), arena),
                            arena, Taps.NONE, Cancellation.NONE);
                    allocations.clear();
                    pass.run(Tensor.allocateHost(DType.F32, new Shape(1, 3, 512, 32), arena),
                            arena, Taps.NONE, Cancellation.NONE);
                    long largest = allocations.stream().mapToLong(Long::longValue).max().orElseThrow();
                    assertTrue(largest < 3L * 512 * 512, "a buffer of " + largest + " values for a 32-wide,"
                            + " 512-tall image after a 512-wide, 32-tall one: grown to 512 × 512");
                }
            });
        }
    }

    /**
     * Buffers grown past a request (the largest sizes seen) that run out of device memory are made for the request
     * alone, as the host's memory check does on the CPU: this backend fails, as cudaMalloc would, the grown pixel
     * buffer of 2 images of 80 × 80 after an 80 × 80 image, and the pass over 2 images of 64 × 64 gives the
     * features a pass of its own gives. Another CUDA error is the pass's failure.
     */
    @Test
    void grownBuffersOutOfDeviceMemoryAreMadeForTheRequestAlone() throws Exception {
        long grownPixels = 2L * 3 * 80 * 80;
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            String[] failure = {"cudaErrorMemoryAllocation"};
            int[] thrown = {0};
            Backend tight = watched(cpu, (method, args) -> {
                if (method.equals("allocate") && ((Shape) args[1]).elementCount() == grownPixels) {
                    thrown[0]++;
                    throw new CudaException("cudaMalloc", 2, failure[0]);
                }
            });
            withGolden(tight, (model, index, options, session) -> {
                try (Arena arena = Arena.ofConfined();
                        VisionPass alone = new VisionPass(cpu, model.davit(), null);
                        VisionPass grown = new VisionPass(tight, model.davit(), null);
                        VisionPass failing = new VisionPass(tight, model.davit(), null)) {
                    Tensor two = Tensor.allocateHost(DType.F32, new Shape(2, 3, 64, 64), arena);
                    for (int i = 0; i < two.elementCount(); i++) {
                        two.setFloat(i, (i % 97) / 97f - 0.5f);
                    }
                    float[] expected = alone.run(two, arena, Taps.NONE, Cancellation.NONE).toFloatArray();
                    grown.run(Tensor.allocateHost(DType.F32, new Shape(1, 3, 80, 80), arena), arena, Taps.NONE,
                            Cancellation.NONE);
                    assertArrayEquals(expected, grown.run(two, arena, Taps.NONE, Cancellation.NONE).toFloatArray());
                    assertEquals(1, thrown[0], "the grown buffers were asked for, and failed");
                    failure[0] = "cudaErrorLaunchFailure";
                    Tensor one = Tensor.allocateHost(DType.F32, new Shape(1, 3, 80, 80), arena);
                    float[] oneAlone = alone.run(one, arena, Taps.NONE, Cancellation.NONE).toFloatArray();
                    failing.run(one, arena, Taps.NONE, Cancellation.NONE);
                    var launch = assertThrows(CudaException.class,
                            () -> failing.run(two, arena, Taps.NONE, Cancellation.NONE));
                    assertEquals("cudaErrorLaunchFailure", launch.statusName());
                    assertEquals(2, thrown[0]);
                    assertArrayEquals(oneAlone, failing.run(one, arena, Taps.NONE, Cancellation.NONE).toFloatArray(),
                            "a failed reserve leaves the pass usable");
                }
            });
        }
    }

    /**
     * Host memory that runs out inside the tower (the backend's own scratch: window attention's scores grow as
     * window_size⁴, and a config's window of 1000 asked for 4 TB) refuses the request as too large, and the pass then
     * gives the features of a pass that never failed.
     */
    @Test
    void aPassOutOfHostMemoryIsRefusedAndLeavesThePassUsable() throws Exception {
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            boolean[] full = {true};
            Backend running = watched(cpu, (method, args) -> {
                if (method.equals("selfAttention") && full[0]) {
                    throw new OutOfMemoryError("Unable to allocate 4000000000048 bytes");
                }
            });
            withGolden(running, (model, index, options, session) -> {
                try (Arena arena = Arena.ofConfined();
                        VisionPass alone = new VisionPass(cpu, model.davit(), null);
                        VisionPass pass = new VisionPass(running, model.davit(), null)) {
                    Tensor one = Tensor.allocateHost(DType.F32, new Shape(1, 3, 64, 64), arena);
                    for (int i = 0; i < one.elementCount(); i++) {
                        one.setFloat(i, (i % 89) / 89f - 0.5f);
                    }
                    var refused = assertThrows(InvalidInputException.class,
                            () -> pass.run(one, arena, Taps.NONE, Cancellation.NONE));
                    assertEquals("1 image(s) of 64 × 64 pixels need more memory than is left for the vision tower"
                            + " (Unable to allocate 4000000000048 bytes)", refused.getMessage());
                    assertInstanceOf(OutOfMemoryError.class, refused.getCause());
                    full[0] = false;
                    assertArrayEquals(alone.run(one, arena, Taps.NONE, Cancellation.NONE).toFloatArray(),
                            pass.run(one, arena, Taps.NONE, Cancellation.NONE).toFloatArray());
                }
            });
        }
    }

    /**
     * A pass over images too large to hold is refused before anything is allocated or its pixels are read (this
     * backend fails any allocation or copy, so a pass that went on fails the test rather than reading the unbacked
     * pixels).
     */
    @Test
    void aPassOverImagesTooLargeToHoldIsRefusedBeforeItAllocates() throws Exception {
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            withGolden(cpu, (model, index, options, session) -> {
                Backend refusing = watched(cpu, (method, args) -> {
                    if (Set.of("allocate", "copy", "write", "upload").contains(method)) {
                        throw new AssertionError(method + " for a pass that cannot be held");
                    }
                });
                Shape shape = new Shape(1, 3, 20_000, 20_000);
                Tensor unbacked = Tensor.wrap(DType.F32, shape, cpu.device(),
                        MemorySegment.NULL.reinterpret(shape.elementCount() * Float.BYTES));
                try (Arena arena = Arena.ofConfined(); VisionPass pass = new VisionPass(refusing, model.davit(), null)) {
                    var refused = assertThrows(InvalidInputException.class,
                            () -> pass.run(unbacked, arena, Taps.NONE, Cancellation.NONE));
                    assertTrue(refused.getMessage().startsWith("1 image(s) of 20000 × 20000 pixels need"),
                            refused.getMessage());
                }
            });
        }
    }

    /**
     * Images whose buffers could not be held are refused by their size before anything is allocated: more values
     * than a buffer takes (the ArithmeticException of an int overflow before), or more bytes than the machine has.
     */
    @Test
    void imagesTooLargeToHoldAreRefusedByTheirSize() throws Exception {
        try (Backend cpu = GoldenText.openBackend("cpu")) {
            withGolden(cpu, (model, index, options, session) -> {
                var tooMany = assertThrows(InvalidInputException.class,
                        () -> VisionPass.requireMemory(model.davit(), cpu, 1, 20_000, 20_000, Long.MAX_VALUE));
                assertTrue(tooMany.getMessage().startsWith("1 image(s) of 20000 × 20000 pixels need buffers of more"
                        + " than 2147483647 values"), tooMany.getMessage());
                var tooLarge = assertThrows(InvalidInputException.class,
                        () -> VisionPass.requireMemory(model.davit(), cpu, 2, 96, 96, 100_000));
                assertTrue(tooLarge.getMessage().contains("GB of vision buffers, more than this machine's 0.0 GB"),
                        tooLarge.getMessage());
                VisionPass.requireMemory(model.davit(), cpu, 2, 96, 96, 1L << 40);
            });
        }
    }

    /**
     * On CUDA with graphs, the second and later passes of one shape are graph launches, and their features are the
     * reference's for the images of each pass (so a replay that kept an earlier request's pixels fails); taps that
     * read the tower still get an eager pass; with graphs off nothing is launched.
     */
    @Test
    void cudaVisionPassesAfterTheFirstAreReplayedGraphs() throws Exception {
        for (boolean graphs : new boolean[] {true, false}) {
            CudaBackend cuda = GoldenText.openCudaOrAbort(graphs);
            try {
                withGolden(cuda, (model, index, options, session) -> {
                    try (Arena arena = Arena.ofConfined()) {
                        Tensor four = Florence2ModelTest.goldenPixels(ROOT, index, arena);
                        long start = cuda.stepGraphLaunches();
                        for (int pass = 0; pass < 3; pass++) {
                            encodeAndCheck(cuda, session, index, four, 2 * (pass % 2), 2, options, false);
                        }
                        long launches = cuda.stepGraphLaunches() - start;
                        assertEquals(graphs ? 2 : 0, launches, "graphs " + graphs + ": vision passes launched of 3"
                                + " (the first runs eagerly, the second is captured)");
                        FeatureTaps reading = encodeAndCheck(cuda, session, index, four, 2, 2, options, true);
                        assertTrue(reading.names.contains("davit_stage3_out"), "taps given: " + reading.names);
                        assertEquals(launches, cuda.stepGraphLaunches() - start, "a pass read by taps launched");
                        for (int pass = 0; pass < 2; pass++) {
                            encodeAndCheck(cuda, session, index, four, 3 - 2 * pass, 1, options, false);
                        }
                        assertEquals(graphs ? 3 : 0, cuda.stepGraphLaunches() - start,
                                "a second shape: its first pass eager, its second launched");
                    }
                });
            } finally {
                cuda.close();
            }
        }
    }

    /**
     * Encodes golden images {@code first … first + images - 1} of {@code all} with each image's first prompt,
     * through taps that record the image features and read the tower or not, and checks the features against the
     * reference's.
     */
    private static FeatureTaps encodeAndCheck(Backend backend, Session session, JsonNode index, Tensor all,
            int first, int images, GenerationOptions options, boolean readsTower) {
        Tensor pixels = all.narrow(first, images);
        List<int[]> prompts = new ArrayList<>();
        for (int i = first; i < first + images; i++) {
            prompts.add(GoldenText.ints(Florence2ModelTest.caseById(index, "img" + i + "_task0").get("input_ids")));
        }
        try (FeatureTaps taps = new FeatureTaps(backend, readsTower)) {
            session.setTaps(taps);
            session.encode(pixels, prompts, options);
            session.setTaps(Taps.NONE);
            assertEquals(readsTower, taps.names.stream().anyMatch(name -> name.startsWith("davit_")),
                    "tower taps given to taps that read the tower: " + readsTower + "; given " + taps.names);
            for (int i = 0; i < images; i++) {
                try (SafetensorsFile arrays = SafetensorsFile.open(ROOT.resolve(
                        index.get("images").get(first + i).get("arrays_file").asText()))) {
                    Tolerance.assertStageClose(backend.device() + " image " + (first + i) + " image_features",
                            arrays.tensor("image_features"), taps.features.narrow(i, 1));
                }
            }
            return taps;
        }
    }

    /** {@code target} with {@code before} shown each call's method name and arguments first; it may throw instead. */
    private static Backend watched(Backend target, BiConsumer<String, Object[]> before) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    before.accept(method.getName(), args);
                    try {
                        return method.invoke(target, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** What a test does with the tiny golden model's session (4 images, 32 tokens each way, 3 beams). */
    private interface GoldenSessionTest {
        void run(Florence2Model model, JsonNode index, GenerationOptions options, Session session) throws Exception;
    }

    private static void withGolden(Backend backend, GoldenSessionTest test) throws Exception {
        Florence2Config config = ConfigReader.read(ROOT.resolve("model/config.json"));
        JsonNode index = new ObjectMapper().readTree(Files.readString(ROOT.resolve("index.json")));
        try (SafetensorsFile checkpoint = SafetensorsFile.open(ROOT.resolve("model/model.safetensors"));
                Florence2Model model = Florence2Model.load(checkpoint, config, backend);
                Session session = model.newSession(new Session.Limits(4, 32, 32, 3))) {
            test.run(model, index, GenerationOptions.fromConfig(config.text(), 32), session);
        }
    }
}
