package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.florence2j.checkpoint.LoadedCheckpoint.Format;
import org.florence2j.checkpoint.LoadedCheckpoint.Layout;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.NativeConfigReader;

/**
 * Opens a Florence-2 model folder exactly as it was downloaded: detects the weight format ({@code model.safetensors},
 * a sharded index, or {@code pytorch_model.bin}, preferred in that order because safetensors map without parsing a
 * pickle) and the layout (remote code or transformers-native, from {@code config.json}).
 */
public final class Checkpoints {
    /** The config file every model folder has. */
    public static final String CONFIG_FILE = "config.json";
    /** The native format's token ids live here. */
    public static final String GENERATION_CONFIG_FILE = "generation_config.json";
    /** The single-file safetensors checkpoint. */
    public static final String SAFETENSORS_FILE = "model.safetensors";
    /** The PyTorch zip checkpoint. */
    public static final String PYTORCH_FILE = "pytorch_model.bin";

    private Checkpoints() {}

    /**
     * Opens the model folder {@code folder}.
     *
     * @throws CheckpointException listing what the folder holds and what is expected when it fits no known layout,
     *                             or naming the file at fault when one is corrupt
     */
    public static LoadedCheckpoint open(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new CheckpointException(folder, null, -1, "is not a folder; expected a Florence-2 model folder"
                    + " holding " + CONFIG_FILE + " and " + expectedWeights());
        }
        Path configFile = folder.resolve(CONFIG_FILE);
        Format format = format(folder);
        if (!Files.isRegularFile(configFile)) {
            throw notAModel(folder, "no " + CONFIG_FILE);
        }
        Layout layout = layout(configFile);
        Florence2Config config = layout == Layout.NATIVE
                ? NativeConfigReader.read(configFile, folder.resolve(GENERATION_CONFIG_FILE))
                : ConfigReader.read(configFile);
        Checkpoint weights = switch (format) {
            case SAFETENSORS -> SafetensorsFile.open(folder.resolve(SAFETENSORS_FILE));
            case SHARDED_SAFETENSORS -> ShardedSafetensors.open(folder.resolve(ShardedSafetensors.INDEX_FILE));
            case PYTORCH_BIN -> PytorchCheckpoint.open(folder.resolve(PYTORCH_FILE));
        };
        Checkpoint checkpoint = layout == Layout.NATIVE ? NativeLayoutCheckpoint.wrap(weights) : weights;
        return new LoadedCheckpoint(folder, checkpoint, config, layout, format);
    }

    private static Format format(Path folder) {
        if (Files.isRegularFile(folder.resolve(SAFETENSORS_FILE))) {
            return Format.SAFETENSORS;
        }
        if (Files.isRegularFile(folder.resolve(ShardedSafetensors.INDEX_FILE))) {
            return Format.SHARDED_SAFETENSORS;
        }
        if (Files.isRegularFile(folder.resolve(PYTORCH_FILE))) {
            return Format.PYTORCH_BIN;
        }
        throw notAModel(folder, "no weights");
    }

    private static Layout layout(Path configFile) {
        JsonNode config = JsonFiles.readObject(configFile);
        if (NativeConfigReader.isNative(config)) {
            return Layout.NATIVE;
        }
        String visionType = config.path("vision_config").path("model_type").asText();
        if (visionType.equals("davit") || config.has("auto_map")) {
            return Layout.REMOTE_CODE;
        }
        throw new CheckpointException(configFile, null, -1, "is not a Florence-2 config: vision_config.model_type"
                + " is '" + visionType + "'; expected 'davit' (remote code, microsoft/Florence-2-*) or '"
                + NativeConfigReader.NATIVE_VISION_MODEL_TYPE + "' (transformers-native, florence-community/*)");
    }

    private static CheckpointException notAModel(Path folder, String problem) {
        return new CheckpointException(folder, null, -1, "is not a Florence-2 model folder (" + problem
                + "); it holds " + listing(folder) + "; expected " + CONFIG_FILE + " and " + expectedWeights());
    }

    private static String expectedWeights() {
        return "one of " + SAFETENSORS_FILE + ", " + ShardedSafetensors.INDEX_FILE + " (with its shards) or "
                + PYTORCH_FILE;
    }

    private static String listing(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            List<String> names = files.map(file -> file.getFileName().toString()).sorted().toList();
            return names.isEmpty() ? "nothing" : names.toString();
        } catch (IOException e) {
            return "an unreadable listing (" + e.getMessage() + ")";
        }
    }
}
