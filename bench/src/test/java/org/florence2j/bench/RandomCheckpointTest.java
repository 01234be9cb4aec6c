package org.florence2j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
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
    }
}
