package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.florence2j.tensor.Tensor;

/**
 * A checkpoint split over several safetensors files by a {@code model.safetensors.index.json}, whose
 * {@code weight_map} names the shard of every tensor (the layout {@code save_pretrained} writes for large models).
 * Every shard is mapped and validated at open, and every tensor the index lists must be in its shard.
 */
public final class ShardedSafetensors implements Checkpoint {
    /** The index file {@code save_pretrained} writes next to the shards. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path index;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> shardOf;

    private ShardedSafetensors(Path index, List<SafetensorsFile> shards, Map<String, SafetensorsFile> shardOf) {
        this.index = index;
        this.shards = shards;
        this.shardOf = shardOf;
    }

    /**
     * Reads {@code index} and maps every shard it names (shards are looked up next to the index).
     *
     * @throws CheckpointException naming the index, the shard and the tensor when the index is malformed, a shard
     *                             is missing or corrupt, or a listed tensor is absent from its shard
     */
    public static ShardedSafetensors open(Path index) {
        JsonNode weightMap = weightMap(index);
        Map<String, SafetensorsFile> byFile = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
                String tensor = entry.getKey();
                String shardName = shardName(index, tensor, entry.getValue());
                SafetensorsFile shard = byFile.get(shardName);
                if (shard == null) {
                    Path shardFile = index.resolveSibling(shardName);
                    if (Files.notExists(shardFile)) {
                        throw new CheckpointException(index, tensor, -1, "is in shard '" + shardName
                                + "', which does not exist (" + shardFile + ")");
                    }
                    FileErrors.requireRegularFile(shardFile);
                    shard = SafetensorsFile.open(shardFile);
                    byFile.put(shardName, shard);
                }
                if (shard.find(tensor).isEmpty()) {
                    throw new CheckpointException(index, tensor, -1, "is listed in shard '" + shardName
                            + "' but that file does not hold it");
                }
                shardOf.put(tensor, shard);
            }
            return new ShardedSafetensors(index, List.copyOf(byFile.values()), Collections.unmodifiableMap(shardOf));
        } catch (RuntimeException e) {
            byFile.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static JsonNode weightMap(Path index) {
        JsonNode root = JsonFiles.readObject(index);
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject() || weightMap.isEmpty()) {
            throw new CheckpointException(index, null, -1, "has no \"weight_map\" object of tensor -> shard file");
        }
        return weightMap;
    }

    private static String shardName(Path index, String tensor, JsonNode value) {
        String name = value.isTextual() ? value.asText() : "";
        // The shards live next to the index; a path could reach files outside the model folder.
        if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals("..") || name.equals(".")) {
            throw new CheckpointException(index, tensor, -1, "has shard " + value
                    + " in weight_map; expected a file name next to the index");
        }
        return name;
    }

    /** The index file. */
    public Path index() {
        return index;
    }

    /** The shard files, in the order the index first names them. */
    public List<Path> shardFiles() {
        List<Path> files = new ArrayList<>();
        shards.forEach(shard -> files.add(shard.file()));
        return files;
    }

    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    @Override
    public Optional<Tensor> find(String name) {
        SafetensorsFile shard = shardOf.get(name);
        return shard == null ? Optional.empty() : shard.find(name);
    }

    @Override
    public Path fileOf(String name) {
        SafetensorsFile shard = shardOf.get(name);
        return shard == null ? index : shard.file();
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
