package org.florence2j;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.SafetensorsWriter;
import org.florence2j.config.EarlyStopping;
import org.florence2j.tensor.Tensor;

/**
 * A model folder made from the golden tiny model ({@code golden/tiny/model}, or its native-layout twin
 * {@code golden/tiny-native/model}) for error tests: every file is a link to the golden one until a test replaces it
 * with an altered copy, so a test breaks one thing and keeps the rest intact.
 */
public final class TinyModelFolder {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path golden;
    private final Path folder;

    private TinyModelFolder(Path golden, Path folder) {
        this.golden = golden;
        this.folder = folder;
    }

    /** The golden tiny model folder itself. */
    public static Path golden() {
        return resource("/golden/tiny/model");
    }

    /** A folder {@code model} in {@code dir} linking to every golden file. */
    public static TinyModelFolder in(Path dir) {
        return linking(golden(), dir);
    }

    /** A folder {@code model} in {@code dir} linking to every file of the native-layout golden model. */
    public static TinyModelFolder nativeIn(Path dir) {
        return linking(resource("/golden/tiny-native/model"), dir);
    }

    private static Path resource(String folder) {
        try {
            return Path.of(TinyModelFolder.class.getResource(folder + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static TinyModelFolder linking(Path golden, Path dir) {
        Path folder = dir.resolve("model");
        try (Stream<Path> files = Files.list(golden)) {
            Files.createDirectories(folder);
            for (Path file : files.toList()) {
                Files.createSymbolicLink(folder.resolve(file.getFileName()), file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TinyModelFolder(golden, folder);
    }

    /**
     * A folder {@code model} in {@code dir} where {@code early_stopping} decides beam search's output: the tiny model
     * with EOS's logits bias raised by 8, {@code length_penalty} 2 and {@code mode} as its config's early stopping.
     * With {@code true} search stops at its first three hypotheses, one or two tokens long, while {@code false} and
     * {@code "never"} go on to the longer ones a penalty of 2 favours.
     */
    public static Path whereEarlyStoppingDecides(Path dir, EarlyStopping mode) {
        return in(dir).addToLogitsBias(2, 8f).editJson("config.json", root -> ((ObjectNode) root.get("text_config"))
                .put("length_penalty", 2.0).putPOJO("early_stopping", mode.configValue())).path();
    }

    /**
     * Keeps the first {@code positions} learned positions of the encoder and the decoder, with the config's
     * {@code max_position_embeddings} to match (a config edit of its own: {@link #editJson} starts from the golden
     * config): a model whose decoder runs out of positions after a few tokens. The tiny model's image takes 10 of
     * the encoder's, a caption's prompt 9.
     */
    public TinyModelFolder withPositions(int positions) {
        editJson("config.json", root -> ((ObjectNode) root.get("text_config")).put("max_position_embeddings",
                positions));
        for (String part : new String[] {"encoder", "decoder"}) {
            String name = "language_model.model." + part + ".embed_positions.weight";
            try (SafetensorsFile current = SafetensorsFile.open(folder.resolve("model.safetensors"));
                    Arena arena = Arena.ofConfined()) {
                // The reference's table has two rows before the first position (BART's offset of 2).
                Tensor kept = current.tensor(name).narrow(0, positions + 2);
                replaceTensor(name, Tensor.ofFloats(kept.shape(), arena, kept.toFloatArray()));
            }
        }
        return this;
    }

    /** The folder. */
    public Path path() {
        return folder;
    }

    /** {@code file} of the folder. */
    public Path resolve(String file) {
        return folder.resolve(file);
    }

    /** Replaces the JSON object in {@code file} with the golden one after {@code edit}. */
    public TinyModelFolder editJson(String file, Consumer<ObjectNode> edit) {
        try {
            ObjectNode root = (ObjectNode) JSON.readTree(golden.resolve(file).toFile());
            edit.accept(root);
            return write(file, JSON.writeValueAsString(root));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Replaces {@code file} with {@code text}. */
    public TinyModelFolder write(String file, String text) {
        try {
            Files.deleteIfExists(folder.resolve(file));
            Files.writeString(folder.resolve(file), text);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Rewrites {@code model.safetensors} with tensor {@code name} replaced by {@code replacement}, keeping the
     * replacements made before.
     */
    public TinyModelFolder replaceTensor(String name, Tensor replacement) {
        Path file = folder.resolve("model.safetensors");
        // Deleting a mapped file leaves its mapping readable until the file is closed.
        try (SafetensorsFile current = SafetensorsFile.open(file)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            current.names().forEach(tensor -> tensors.put(tensor, current.tensor(tensor)));
            tensors.put(name, replacement);
            Files.delete(file);
            SafetensorsWriter.write(file, tensors, current.metadata());
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Adds {@code amount} to token {@code token}'s {@code final_logits_bias}: raised for EOS, sequences end sooner;
     * lowered, they run to {@code max_length}.
     */
    public TinyModelFolder addToLogitsBias(int token, float amount) {
        String name = "language_model.final_logits_bias";
        try (SafetensorsFile current = SafetensorsFile.open(folder.resolve("model.safetensors"));
                Arena arena = Arena.ofConfined()) {
            Tensor bias = current.tensor(name);
            float[] values = bias.toFloatArray();
            values[token] += amount;
            return replaceTensor(name, Tensor.ofFloats(bias.shape(), arena, values));
        }
    }
}
