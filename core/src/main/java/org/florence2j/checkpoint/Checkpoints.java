package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.florence2j.checkpoint.LoadedCheckpoint.Format;
import org.florence2j.checkpoint.LoadedCheckpoint.Layout;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.NativeConfigReader;
import org.florence2j.error.IoErrors;

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

    /** The weight files, in order of preference: safetensors map without parsing a pickle. */
    private static final List<Map.Entry<String, Format>> WEIGHT_FILES = List.of(
            Map.entry(SAFETENSORS_FILE, Format.SAFETENSORS),
            Map.entry(ShardedSafetensors.INDEX_FILE, Format.SHARDED_SAFETENSORS),
            Map.entry(PYTORCH_FILE, Format.PYTORCH_BIN));

    private Checkpoints() {}

    /**
     * Opens the model folder {@code folder}.
     *
     * @throws CheckpointException listing what the folder holds and what is expected when it fits no known layout,
     *                             or naming the file at fault when one is corrupt
     */
    public static LoadedCheckpoint open(Path folder) {
        List<String> names = listing(folder);
        Format format = format(folder, names);
        Path configFile = folder.resolve(CONFIG_FILE);
        if (!names.contains(CONFIG_FILE)) {
            throw notAModel(folder, names, "no " + CONFIG_FILE);
        }
        FileErrors.requireRegularFile(configFile);
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

    /**
     * The first weight file of the folder that is a file, in order of preference; one that is present but not a
     * file (a folder, a broken link) is skipped, as transformers' {@code os.path.isfile} skips it, and named when
     * no other is usable.
     */
    private static Format format(Path folder, List<String> names) {
        CheckpointException firstUnusable = null;
        for (Map.Entry<String, Format> weights : WEIGHT_FILES) {
            if (names.contains(weights.getKey())) {
                try {
                    FileErrors.requireRegularFile(folder.resolve(weights.getKey()));
                    return weights.getValue();
                } catch (CheckpointException e) {
                    firstUnusable = firstUnusable == null ? e : firstUnusable;
                }
            }
        }
        throw firstUnusable != null ? firstUnusable : notAModel(folder, names, "no weights");
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

    private static CheckpointException notAModel(Path folder, List<String> names, String problem) {
        return new CheckpointException(folder, null, -1, "is not a Florence-2 model folder (" + problem
                + "); it holds " + (names.isEmpty() ? "nothing" : names.toString()) + "; expected " + CONFIG_FILE
                + " and " + expectedWeights());
    }

    private static String expectedWeights() {
        return "one of " + SAFETENSORS_FILE + ", " + ShardedSafetensors.INDEX_FILE + " (with its shards) or "
                + PYTORCH_FILE;
    }

    /** The names in {@code folder}, sorted; refuses a folder that does not exist, is none, or cannot be listed. */
    private static List<String> listing(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            String problem = switch (e) {
                case NotDirectoryException notFolder -> "is not a folder";
                case NoSuchFileException missing -> "is not a folder (it does not exist)";
                case AccessDeniedException denied -> "cannot be listed (permission denied)";
                default -> "is not a folder (" + IoErrors.reason(e) + ")";
            };
            throw new CheckpointException(folder, null, -1, problem + "; expected a Florence-2 model folder holding "
                    + CONFIG_FILE + " and " + expectedWeights(), e);
        }
    }
}
