package org.florence2j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.Generation;
import org.florence2j.RunOptions;
import org.florence2j.Task;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.config.ConfigReader;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RandomCheckpointTest {
    private static final Path TINY = Path.of("../core/src/test/resources/golden/tiny/model");

    @Test
    void namesAndShapesMatchTheGenuineStateDict() {
        Map<String, Shape> expected = new TreeMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(TINY.resolve("model.safetensors"))) {
            file.names().forEach(name -> expected.put(name, file.tensor(name).shape()));
        }
        Map<String, Shape> generated = new TreeMap<>();
        RandomCheckpoint.tensorShapes(ConfigReader.read(TINY.resolve("config.json")))
                .forEach((name, dims) -> generated.put(name, new Shape(dims)));
        assertEquals(expected, generated);
    }

    @Test
    void writesALoadableFolderInTheRequestedDtype(@TempDir Path out) throws Exception {
        RandomCheckpoint.write(TINY.resolve("config.json"), TINY, out, DType.BF16, 96);
        Map<String, DType> dtypes = new LinkedHashMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            file.names().forEach(name -> dtypes.put(name, file.tensor(name).dtype()));
            float norm = file.tensor("image_proj_norm.weight").getFloat(0);
            assertEquals(1f, norm, 0.2f, "LayerNorm weights are centred on 1");
        }
        assertEquals(Map.of(DType.BF16, dtypes.size()), Map.of(DType.BF16,
                (int) dtypes.values().stream().filter(d -> d == DType.BF16).count()));
        assertEquals(ConfigReader.read(TINY.resolve("config.json")), ConfigReader.read(out.resolve("config.json")));
        try (Florence2 model = Florence2.load(out, Florence2Options.defaults().withThreads(1))) {
            Path image = TINY.resolveSibling("images/gradient_160x160.png");
            Generation caption = model.run(Florence2Request.of(image, Task.CAPTION),
                    RunOptions.defaults().withMaxNewTokens(4)).generation();
            int[] ids = caption.generatedIds();
            assertTrue(ids.length >= 3 && ids[0] == 2 && ids[1] == 0 && ids[ids.length - 1] == 2,
                    "a caption from the random weights: " + Arrays.toString(ids));
            // A distribution over the vocabulary, not NaN (weights of the wrong scale) or one certain token.
            float chosen = caption.transitionScores()[1];
            assertTrue(Float.isFinite(chosen) && chosen < 0, Arrays.toString(caption.transitionScores()));
        }
    }
}
