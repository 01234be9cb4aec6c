package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.florence2j.checkpoint.TestFiles.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ShardedSafetensors}: the golden model split in two reads back exactly; broken indexes are refused. */
class ShardedSafetensorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /**
     * Splits {@code golden/tiny/model/model.safetensors} into two shards plus an index in {@code folder}, as
     * {@code save_pretrained(max_shard_size=...)} would.
     */
    static Path splitGolden(Path folder) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", 0);
        ObjectNode weightMap = index.putObject("weight_map");
        try (SafetensorsFile st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            List<String> names = List.copyOf(st.names());
            Map<String, Tensor> first = new LinkedHashMap<>();
            Map<String, Tensor> second = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                String shard = i < names.size() / 2 ? "model-00001-of-00002.safetensors"
                        : "model-00002-of-00002.safetensors";
                (i < names.size() / 2 ? first : second).put(names.get(i), st.tensor(names.get(i)));
                weightMap.put(names.get(i), shard);
            }
            TestFiles.safetensors(folder.resolve("model-00001-of-00002.safetensors"), first);
            TestFiles.safetensors(folder.resolve("model-00002-of-00002.safetensors"), second);
        }
        Path indexFile = folder.resolve(ShardedSafetensors.INDEX_FILE);
        Files.writeString(indexFile, JSON.writeValueAsString(index));
        return indexFile;
    }

    @Test
    void goldenSplitInTwoReadsBackExactly() throws IOException {
        Path index = splitGolden(dir);
        try (var sharded = ShardedSafetensors.open(index);
             var st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            assertEquals(List.copyOf(st.names()), List.copyOf(sharded.names()));
            for (String name : st.names()) {
                assertEquals(st.tensor(name).shape(), sharded.tensor(name).shape(), name);
                assertEquals(-1, st.tensor(name).memory().mismatch(sharded.tensor(name).memory()), name);
            }
            assertEquals(2, sharded.shardFiles().size());
            assertEquals(dir.resolve("model-00001-of-00002.safetensors"), sharded.fileOf("image_projection"));
            assertEquals(index, sharded.fileOf("absent"));
        }
    }

    @Test
    void missingShard() throws IOException {
        Path index = writeIndex("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\"}}");
        assertCheckpointError(() -> ShardedSafetensors.open(index), ShardedSafetensors.INDEX_FILE, "tensor 'a'",
                "shard 'model-00001-of-00002.safetensors'", "does not exist");
    }

    @Test
    void aShardThatIsNoFileIsNamedWithoutBeingOpened() throws IOException {
        Path index = writeIndex("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\"}}");
        Files.createDirectory(dir.resolve("model-00001-of-00002.safetensors"));
        assertCheckpointError(() -> ShardedSafetensors.open(index), "model-00001-of-00002.safetensors",
                "is a folder, not a file");
    }

    @Test
    void tensorListedButAbsentFromItsShard() throws IOException {
        TestFiles.safetensors(dir.resolve("s1.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats(1f));
        Path index = writeIndex("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}");
        assertCheckpointError(() -> ShardedSafetensors.open(index), "tensor 'b'", "'s1.safetensors'",
                "does not hold it");
    }

    @Test
    void corruptShardIsNamed() throws IOException {
        TestFiles.write(dir.resolve("s1.safetensors"), new byte[] {1, 2});
        Path index = writeIndex("{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
        assertCheckpointError(() -> ShardedSafetensors.open(index), "s1.safetensors", "too short");
    }

    @Test
    void malformedIndexes() throws IOException {
        Path notJson = writeIndex("{\"weight_map\":");
        assertCheckpointError(() -> ShardedSafetensors.open(notJson), "cannot be read as JSON");
        Path noMap = writeIndex("{\"metadata\":{}}");
        assertCheckpointError(() -> ShardedSafetensors.open(noMap), "no \"weight_map\"");
        Path escape = writeIndex("{\"weight_map\":{\"a\":\"../outside.safetensors\"}}");
        assertCheckpointError(() -> ShardedSafetensors.open(escape), "tensor 'a'", "next to the index");
        Path number = writeIndex("{\"weight_map\":{\"a\":3}}");
        assertCheckpointError(() -> ShardedSafetensors.open(number), "tensor 'a'", "next to the index");
    }

    private Path writeIndex(String text) throws IOException {
        return Files.writeString(dir.resolve(ShardedSafetensors.INDEX_FILE), text, StandardCharsets.UTF_8);
    }
}
