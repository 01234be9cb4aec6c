package org.florence2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * End to end on the tiny golden model: the four golden images' {@code pixel_values} in one batch, each with a
 * prompt's {@code input_ids}, through the vision tower, projection, encoder and decoder, to the reference's
 * greedy and beam-3 ids (exact; the chosen cases have no near tie), on every backend of {@link GoldenText#BACKENDS}.
 */
class Florence2ModelTest {
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void pixelsAndPromptsGiveTheReferenceIds(String name) throws Exception {
        withGoldenSession(name, (root, config, index, session) -> {
            try (Arena arena = Arena.ofConfined()) {
                JsonNode images = index.get("images");
                Tensor pixels = goldenPixels(root, index, arena);
                for (String task : new String[] {"task0", "task1"}) {
                    List<int[]> prompts = new ArrayList<>();
                    List<JsonNode> cases = new ArrayList<>();
                    for (int i = 0; i < images.size(); i++) {
                        JsonNode goldenCase = caseById(index, "img" + i + "_" + task);
                        cases.add(goldenCase);
                        prompts.add(GoldenText.ints(goldenCase.get("input_ids")));
                    }
                    for (String mode : new String[] {"greedy", "beam3"}) {
                        GenerationOptions options = GenerationOptions.fromConfig(config.text(), 32)
                                .withNumBeams(mode.equals("greedy") ? 1 : 3);
                        GenerationResult[] results = session.generate(pixels, prompts, options);
                        for (int i = 0; i < results.length; i++) {
                            JsonNode expected = cases.get(i).get("generate").get(mode).get("sequence");
                            assertEquals(Arrays.toString(GoldenText.ints(expected)),
                                    Arrays.toString(results[i].sequence()),
                                    name + " " + cases.get(i).get("id").asText() + " " + mode);
                        }
                    }
                }
            }
        });
    }

    /**
     * {@code generate} in its two halves, the pixels freed in between (as {@code Florence2.run} does), gives the
     * reference's ids; a request encoded before another one cannot be decoded any more.
     */
    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void encodeThenDecodeWithThePixelsFreed(String name) throws Exception {
        withGoldenSession(name, (root, config, index, session) -> {
            List<int[]> prompts = new ArrayList<>();
            List<JsonNode> cases = new ArrayList<>();
            for (int i = 0; i < index.get("images").size(); i++) {
                cases.add(caseById(index, "img" + i + "_task0"));
                prompts.add(GoldenText.ints(cases.get(i).get("input_ids")));
            }
            GenerationOptions options = GenerationOptions.fromConfig(config.text(), 32).withNumBeams(3);
            Session.Encoded stale;
            Session.Encoded encoded;
            try (Arena pixelArena = Arena.ofConfined()) {
                Tensor pixels = goldenPixels(root, index, pixelArena);
                stale = session.encode(pixels, prompts, options);
                encoded = session.encode(pixels, prompts, options);
            }
            GenerationResult[] results = session.decode(encoded);
            for (int i = 0; i < results.length; i++) {
                JsonNode expected = cases.get(i).get("generate").get("beam3").get("sequence");
                assertEquals(Arrays.toString(GoldenText.ints(expected)), Arrays.toString(results[i].sequence()),
                        name + " " + cases.get(i).get("id").asText());
            }
            assertThrows(IllegalStateException.class, () -> session.decode(stale));
            assertThrows(IllegalStateException.class, () -> session.decode(encoded));
        });
    }

    /** What a test does with the tiny golden model's session (4 images, 32 tokens each way, 3 beams). */
    private interface GoldenSessionTest {
        void run(java.nio.file.Path root, Florence2Config config, JsonNode index, Session session) throws Exception;
    }

    private static void withGoldenSession(String backendName, GoldenSessionTest test) throws Exception {
        java.nio.file.Path root = GoldenText.goldenRoot();
        Florence2Config config = ConfigReader.read(root.resolve("model/config.json"));
        JsonNode index = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(java.nio.file.Files.readString(root.resolve("index.json")));
        try (Backend backend = GoldenText.openBackend(backendName);
                SafetensorsFile checkpoint = SafetensorsFile.open(root.resolve("model/model.safetensors"));
                Florence2Model model = Florence2Model.load(checkpoint, config, backend);
                Session session = model.newSession(new Session.Limits(4, 32, 32, 3))) {
            test.run(root, config, index, session);
        }
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("org.florence2j.model.text.GoldenText#BACKENDS")
    void missingLanguageWeightFailsAtLoad(String name) {
        java.nio.file.Path root = GoldenText.goldenRoot();
        Florence2Config config = ConfigReader.read(root.resolve("model/config.json"));
        try (Backend backend = GoldenText.openBackend(name);
                SafetensorsFile checkpoint = SafetensorsFile.open(root.resolve("model/model.safetensors"))) {
            var withoutFc1 = new FilteredCheckpoint(checkpoint, "language_model.model.decoder.layers.1.fc1.weight");
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Florence2Model.load(withoutFc1, config, backend));
            org.junit.jupiter.api.Assertions.assertTrue(
                    e.getMessage().contains("language_model.model.decoder.layers.1.fc1.weight"), e.getMessage());
        }
    }

    /**
     * Memory that runs out while the weights are packed (here the last linear weight) fails the load with the
     * weights packed before it freed: an OutOfMemoryError left them allocated for good.
     */
    @Test
    void aLoadOutOfMemoryFreesTheWeightsPackedBeforeIt() throws Exception {
        java.nio.file.Path root = GoldenText.goldenRoot();
        Florence2Config config = ConfigReader.read(root.resolve("model/config.json"));
        List<Arena> owners = new ArrayList<>();
        try (Backend real = GoldenText.openBackend("cpu");
                SafetensorsFile checkpoint = SafetensorsFile.open(root.resolve("model/model.safetensors"))) {
            int[] linearWeights = {0};
            Backend counting = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                    new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                        if (method.getName().equals("uploadLinearWeight")) {
                            linearWeights[0]++;
                        }
                        return invoke(real, method, args);
                    });
            Florence2Model.load(checkpoint, config, counting).close();
            int last = linearWeights[0];
            linearWeights[0] = 0;
            Backend failing = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                    new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                        if (args != null && args[args.length - 1] instanceof Arena owner) {
                            owners.add(owner);
                        }
                        if (method.getName().equals("uploadLinearWeight") && ++linearWeights[0] == last) {
                            throw new OutOfMemoryError("aligned_alloc of 4096 bytes failed");
                        }
                        return invoke(real, method, args);
                    });
            assertThrows(OutOfMemoryError.class, () -> Florence2Model.load(checkpoint, config, failing));
            assertEquals(last, linearWeights[0]);
        }
        assertFalse(owners.isEmpty(), "the load allocated nothing through its backend");
        for (Arena owner : owners) {
            assertFalse(owner.scope().isAlive(), "an arena of the failed load is still open");
        }
    }

    private static Object invoke(Backend target, java.lang.reflect.Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** The golden images' {@code pixel_values} as one host batch {@code [images, 3, 96, 96]}, in index order. */
    static Tensor goldenPixels(java.nio.file.Path root, JsonNode index, Arena arena) {
        JsonNode images = index.get("images");
        Tensor pixels = Tensor.allocateHost(DType.F32, new Shape(images.size(), 3, 96, 96), arena);
        long imageBytes = pixels.byteSize() / images.size();
        for (int i = 0; i < images.size(); i++) {
            try (SafetensorsFile arrays = SafetensorsFile.open(root.resolve(images.get(i).get("arrays_file")
                    .asText()))) {
                MemorySegment.copy(arrays.tensor("pixel_values").memory(), 0, pixels.memory(), i * imageBytes,
                        imageBytes);
            }
        }
        return pixels;
    }

    static JsonNode caseById(JsonNode index, String id) {
        for (JsonNode c : index.get("cases")) {
            if (c.get("id").asText().equals(id)) {
                return c;
            }
        }
        throw new IllegalArgumentException(id);
    }
}
