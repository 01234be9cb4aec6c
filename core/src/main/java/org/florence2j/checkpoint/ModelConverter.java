package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.florence2j.checkpoint.LoadedCheckpoint.Format;
import org.florence2j.checkpoint.LoadedCheckpoint.Layout;
import org.florence2j.config.ConfigWriter;
import org.florence2j.config.Florence2Config;
import org.florence2j.error.IoErrors;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * Turns any model folder {@link Checkpoints#open(Path)} accepts into florence2j's canonical folder, so that later
 * loads are a pure memory map: one {@code model.safetensors} under remote-code tensor names in one float dtype, a
 * remote-code {@code config.json}, and the tokenizer and processor files. Also describes a folder for the CLI's
 * {@code info}.
 *
 * <p>The tensors written are those a remote-code {@code save_pretrained} stores: the encoder and decoder
 * {@code embed_tokens}, which the remote code ties to {@code shared} ({@code _tied_weights_keys} of
 * {@code Florence2LanguageForConditionalGeneration}) and {@code torch.save} writes as aliases of it, are dropped, and
 * so is {@code lm_head.weight} when it is an alias of {@code shared}'s storage (save_pretrained drops tied keys too;
 * writing it would add a second copy of the largest tensor); an {@code lm_head.weight} with storage of its own is
 * kept. Nothing is invented: a native-layout source has no
 * {@code final_logits_bias} (the native class has none, i.e. zero) and no {@code lm_head.weight} (tied to
 * {@code shared}), so the converted folder has neither, and its {@code shared} keeps the padded vocabulary rows.
 *
 * <p>A converted native folder runs as remote code. A native model the remote code would compute differently from
 * the same weights (see {@link ConfigWriter#toJson}) is refused; one that differs only in how non-square feature maps
 * are placed converts, and gives the same results for the square images Florence-2's processors make.
 */
public final class ModelConverter {
    /** Files copied next to the weights when the source has them: tokenizer, image processor, generation. */
    public static final List<String> SIDE_FILES = List.of("tokenizer.json", "tokenizer_config.json", "vocab.json",
            "merges.txt", "preprocessor_config.json", "special_tokens_map.json", "added_tokens.json",
            Checkpoints.GENERATION_CONFIG_FILE);

    /** Aliases of {@code language_model.model.shared.weight} that {@code torch.save} writes and safetensors not. */
    static final Set<String> TIED_TO_SHARED = Set.of("language_model.model.encoder.embed_tokens.weight",
            "language_model.model.decoder.embed_tokens.weight");
    static final String SHARED = "language_model.model.shared.weight";
    static final String LM_HEAD = "language_model.lm_head.weight";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What a model folder holds, for the CLI's {@code info}.
     *
     * @param layout          tensor naming and config format
     * @param format          weight file format
     * @param dtypeHistogram  number of tensors of each dtype
     * @param parameterCount  stored elements, each storage counted once however many names share it (the
     *                        {@code embed_tokens} aliases of a {@code pytorch_model.bin})
     * @param weightBytes     bytes of those storages
     * @param tensorCount     tensor names, aliases included
     * @param config          the model config
     */
    public record ModelInfo(Layout layout, Format format, Map<DType, Integer> dtypeHistogram, long parameterCount,
                            long weightBytes, int tensorCount, Florence2Config config) {}

    /**
     * What {@link #convert} wrote.
     *
     * @param target      the folder written
     * @param dtype       the dtype of every floating-point tensor written
     * @param tensorCount tensors in {@code model.safetensors}
     * @param dropped     source tensor names not written (aliases of {@code shared}'s storage)
     * @param copiedFiles side files copied from the source, besides the weights and {@code config.json}
     */
    public record Conversion(Path target, DType dtype, int tensorCount, List<String> dropped,
                             List<String> copiedFiles) {}

    private ModelConverter() {}

    /** {@link #convert(Path, Path, DType, boolean)} refusing to replace an existing {@code model.safetensors}. */
    public static Conversion convert(Path sourceDir, Path targetDir, DType dtype) {
        return convert(sourceDir, targetDir, dtype, false);
    }

    /**
     * Writes the canonical folder of {@code sourceDir} into {@code targetDir} (created if absent), with every
     * floating-point tensor converted to {@code dtype} (to BF16 and F16 by round-to-nearest-even, as torch's
     * {@code Tensor.to} does). Tensors are converted straight into the mapped output file, one at a time.
     *
     * @param overwrite whether a {@code model.safetensors} already in {@code targetDir} may be replaced
     * @throws IllegalArgumentException when {@code dtype} is not F32, BF16 or F16
     * @throws CheckpointException      when the source is not a model folder, the target is the source, a file, or
     *                                  (without {@code overwrite}) already holds a model, or a file cannot be written
     */
    public static Conversion convert(Path sourceDir, Path targetDir, DType dtype, boolean overwrite) {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("convert writes f32, bf16 or f16 weights, not " + dtype);
        }
        try (LoadedCheckpoint source = Checkpoints.open(sourceDir)) {
            ObjectNode config = remoteConfig(source, dtype); // refuses before anything is written
            prepareTarget(sourceDir, targetDir, overwrite);
            Checkpoint weights = source.checkpoint();
            Tensor shared = weights.find(SHARED).orElse(null);
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            List<String> dropped = new ArrayList<>();
            for (String name : weights.names()) {
                Tensor tensor = weights.tensor(name);
                if (shared != null && (TIED_TO_SHARED.contains(name)
                        || name.equals(LM_HEAD) && sameMemory(tensor, shared))) {
                    dropped.add(name);
                    continue;
                }
                // Integer tensors (a norm's num_batches_tracked, position_ids) are copied as they are: the model
                // reads none, and one it would read as a weight is refused when the converted folder loads.
                DType written = tensor.dtype().isFloatingPoint() ? dtype : tensor.dtype();
                entries.add(new SafetensorsWriter.Entry(name, written, tensor.shape(),
                        target -> convertInto(tensor, written, target)));
            }
            SafetensorsWriter.write(targetDir.resolve(Checkpoints.SAFETENSORS_FILE), entries,
                    Map.of("format", "pt"));
            writeConfig(targetDir.resolve(Checkpoints.CONFIG_FILE), config);
            List<String> copied = copySideFiles(sourceDir, targetDir);
            return new Conversion(targetDir, dtype, entries.size(), List.copyOf(dropped), copied);
        }
    }

    private static boolean sameMemory(Tensor a, Tensor b) {
        return a.memory().address() == b.memory().address() && a.byteSize() == b.byteSize();
    }

    private static void prepareTarget(Path sourceDir, Path targetDir, boolean overwrite) {
        try {
            if (Files.exists(targetDir) && Files.isSameFile(sourceDir, targetDir)) {
                throw new CheckpointException(targetDir, null, -1, "is the source folder: convert writes a new"
                        + " folder and never rewrites the files it reads");
            }
            if (Files.exists(targetDir) && !Files.isDirectory(targetDir)) {
                throw new CheckpointException(targetDir, null, -1, "exists and is not a folder");
            }
            if (!overwrite && Files.exists(targetDir.resolve(Checkpoints.SAFETENSORS_FILE))) {
                throw new CheckpointException(targetDir, null, -1, "already holds " + Checkpoints.SAFETENSORS_FILE
                        + "; choose an empty folder or allow overwriting (--force)");
            }
            Files.createDirectories(targetDir);
        } catch (IOException e) {
            throw new CheckpointException(targetDir, null, -1, "cannot be prepared: " + IoErrors.reason(e), e);
        }
    }

    /**
     * The converted folder's {@code config.json}: a remote-code one is copied with only {@code torch_dtype} changed,
     * a native one is rewritten.
     *
     * @throws CheckpointException naming the source config when the native model it describes has no remote-code
     *                             config (the remote code would compute it differently)
     */
    private static ObjectNode remoteConfig(LoadedCheckpoint source, DType dtype) {
        Path file = source.folder().resolve(Checkpoints.CONFIG_FILE);
        if (source.layout() == Layout.NATIVE) {
            try {
                return ConfigWriter.toJson(source.config(), dtype);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file, null, -1, "cannot be converted to the remote-code format: "
                        + e.getMessage(), e);
            }
        }
        ObjectNode root = (ObjectNode) JsonFiles.readObject(file);
        root.put("torch_dtype", ConfigWriter.torchDtype(dtype));
        return root;
    }

    private static void writeConfig(Path file, ObjectNode root) {
        try {
            Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        } catch (IOException e) {
            throw new CheckpointException(file, null, -1, "cannot be written: " + IoErrors.reason(e), e);
        }
    }

    private static List<String> copySideFiles(Path sourceDir, Path targetDir) {
        List<String> copied = new ArrayList<>();
        for (String name : SIDE_FILES) {
            Path from = sourceDir.resolve(name);
            if (Files.isRegularFile(from)) {
                try {
                    Files.copy(from, targetDir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    throw new CheckpointException(targetDir.resolve(name), null, -1, "cannot be copied from "
                            + from + ": " + IoErrors.reason(e), e);
                }
                copied.add(name);
            }
        }
        return List.copyOf(copied);
    }

    /**
     * Writes {@code source} as {@code dtype} into {@code target} ({@code elements × dtype} bytes). Same dtype is
     * copied; floats go through float32, which holds every F16 and BF16 value exactly.
     */
    static void convertInto(Tensor source, DType dtype, MemorySegment target) {
        MemorySegment in = source.memory();
        if (source.dtype() == dtype) {
            MemorySegment.copy(in, 0, target, 0, in.byteSize());
            return;
        }
        long count = source.elementCount();
        for (long i = 0; i < count; i++) {
            float value = switch (source.dtype()) {
                case F32 -> in.getAtIndex(F32_LE, i);
                case F16 -> Float.float16ToFloat(in.getAtIndex(I16_LE, i));
                case BF16 -> Float.intBitsToFloat((in.getAtIndex(I16_LE, i) & 0xFFFF) << 16);
                default -> source.getFloat(i);
            };
            switch (dtype) {
                case F32 -> target.setAtIndex(F32_LE, i, value);
                case F16 -> target.setAtIndex(I16_LE, i, Float.floatToFloat16(value));
                case BF16 -> target.setAtIndex(I16_LE, i, toBFloat16(value));
                default -> throw new IllegalArgumentException("cannot convert " + source.dtype() + " to " + dtype);
            }
        }
    }

    /**
     * {@code value} rounded to bfloat16, to nearest with ties to even, NaN to the quiet NaN: torch's
     * {@code c10::detail::round_to_nearest_even} (c10/util/BFloat16.h).
     */
    public static short toBFloat16(float value) {
        if (Float.isNaN(value)) {
            return 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(value);
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * Describes the model folder {@code dir} without loading the model.
     *
     * @throws CheckpointException as {@link Checkpoints#open(Path)} does
     */
    public static ModelInfo describe(Path dir) {
        try (LoadedCheckpoint loaded = Checkpoints.open(dir)) {
            Checkpoint weights = loaded.checkpoint();
            Map<DType, Integer> histogram = new EnumMap<>(DType.class);
            List<Tensor> tensors = new ArrayList<>();
            for (String name : weights.names()) {
                Tensor tensor = weights.tensor(name);
                histogram.merge(tensor.dtype(), 1, Integer::sum);
                tensors.add(tensor);
            }
            long[] unique = uniqueStorage(tensors);
            return new ModelInfo(loaded.layout(), loaded.format(), Collections.unmodifiableMap(histogram),
                    unique[0], unique[1], tensors.size(), loaded.config());
        }
    }

    /**
     * {@code [elements, bytes]} of the memory under {@code tensors}, each byte counted once: tensors sharing a
     * storage (tied weights in a {@code pytorch_model.bin}) overlap in the mapping, so overlapping address ranges
     * are merged.
     */
    private static long[] uniqueStorage(List<Tensor> tensors) {
        List<Tensor> byAddress = new ArrayList<>(tensors);
        byAddress.sort(Comparator.comparingLong(tensor -> tensor.memory().address()));
        long elements = 0;
        long bytes = 0;
        long coveredEnd = Long.MIN_VALUE;
        for (Tensor tensor : byAddress) {
            long start = tensor.memory().address();
            long end = start + tensor.byteSize();
            long fresh = end - Math.max(start, coveredEnd);
            if (fresh > 0) {
                bytes += fresh;
                elements += fresh / tensor.dtype().byteSize();
                coveredEnd = end;
            }
        }
        return new long[] {elements, bytes};
    }
}
