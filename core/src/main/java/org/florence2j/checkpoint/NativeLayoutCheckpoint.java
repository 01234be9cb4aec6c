package org.florence2j.checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A checkpoint in the layout of transformers' native {@code Florence2ForConditionalGeneration} (the
 * {@code florence-community/Florence-2-*} repositories), seen under the remote-code names the model reads. The
 * renaming mirrors, in reverse, transformers' {@code convert_florence2_original_pytorch_to_hf.py} (commit 259d174e);
 * the table is in {@code golden/tiny-native/README.md}.
 *
 * <p>Differences that are not renames: {@code image_projection} is stored as an {@code nn.Linear} weight
 * {@code [out, in]} and is transposed back to the remote {@code [in, out]} (a copy owned by this checkpoint); there is
 * no {@code final_logits_bias} and no {@code lm_head.weight} (tied to {@code shared}), and neither is invented here.
 * The vocabulary is padded (51289 to 51328 rows in the converted checkpoints): {@code shared} keeps its padded rows,
 * matching the native config's {@code vocab_size}.
 */
public final class NativeLayoutCheckpoint implements Checkpoint {
    /** Native name of the projection stored transposed. */
    static final String NATIVE_IMAGE_PROJECTION = "model.multi_modal_projector.image_projection.weight";

    private record Rule(Pattern nativeName, String remoteName) {}

    private static final String BLOCK = "model\\.vision_tower\\.blocks\\.(\\d+)\\.(\\d+)\\.";
    private static final String REMOTE_BLOCK = "vision_tower.blocks.$1.$2.";

    /** Native name pattern to remote name, first match wins; every native name must match one. */
    private static final List<Rule> RULES = List.of(
            rule("model\\.vision_tower\\.convs\\.(\\d+)\\.conv\\.(weight|bias)", "vision_tower.convs.$1.proj.$2"),
            rule("model\\.vision_tower\\.convs\\.(\\d+)\\.norm\\.(weight|bias)", "vision_tower.convs.$1.norm.$2"),
            rule(BLOCK + "(spatial_block|channel_block)\\.(conv1|conv2)\\.(weight|bias)",
                    REMOTE_BLOCK + "$3.$4.fn.dw.$5"),
            rule(BLOCK + "spatial_block\\.norm1\\.(weight|bias)", REMOTE_BLOCK + "spatial_block.window_attn.norm.$3"),
            rule(BLOCK + "channel_block\\.norm1\\.(weight|bias)", REMOTE_BLOCK + "channel_block.channel_attn.norm.$3"),
            rule(BLOCK + "spatial_block\\.window_attn\\.(qkv|proj)\\.(weight|bias)",
                    REMOTE_BLOCK + "spatial_block.window_attn.fn.$3.$4"),
            rule(BLOCK + "channel_block\\.channel_attn\\.(qkv|proj)\\.(weight|bias)",
                    REMOTE_BLOCK + "channel_block.channel_attn.fn.$3.$4"),
            rule(BLOCK + "(spatial_block|channel_block)\\.norm2\\.(weight|bias)", REMOTE_BLOCK + "$3.ffn.norm.$4"),
            rule(BLOCK + "(spatial_block|channel_block)\\.ffn\\.(fc1|fc2)\\.(weight|bias)",
                    REMOTE_BLOCK + "$3.ffn.fn.net.$4.$5"),
            rule(Pattern.quote(NATIVE_IMAGE_PROJECTION), "image_projection"),
            rule("model\\.multi_modal_projector\\.image_proj_norm\\.(weight|bias)", "image_proj_norm.$1"),
            rule("model\\.multi_modal_projector\\.image_position_embed\\.(row|column)_embeddings\\.weight",
                    "image_pos_embed.$1_embeddings.weight"),
            rule("model\\.multi_modal_projector\\.visual_temporal_embed\\.pos_idx_to_embed",
                    "visual_temporal_embed.pos_idx_to_embed"),
            rule("model\\.language_model\\.(.+)", "language_model.model.$1"),
            rule("lm_head\\.weight", "language_model.lm_head.weight"));

    private final Checkpoint inner;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> nativeNames;

    private NativeLayoutCheckpoint(Checkpoint inner, Arena arena, Map<String, Tensor> tensors,
                                   Map<String, String> nativeNames) {
        this.inner = inner;
        this.arena = arena;
        this.tensors = tensors;
        this.nativeNames = nativeNames;
    }

    private static Rule rule(String nativeName, String remoteName) {
        return new Rule(Pattern.compile(nativeName), remoteName);
    }

    /**
     * Renames every tensor of {@code inner}; this checkpoint takes ownership of {@code inner} and closes it.
     *
     * @throws CheckpointException naming the tensor when a native name has no remote counterpart or the projection
     *                             is not a matrix
     */
    public static NativeLayoutCheckpoint wrap(Checkpoint inner) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, String> nativeNames = new LinkedHashMap<>();
            for (String nativeName : inner.names()) {
                String remoteName = remoteName(nativeName).orElseThrow(() -> new CheckpointException(
                        inner.fileOf(nativeName), nativeName, -1, "is not part of the native Florence-2 layout"
                                + " (transformers' Florence2ForConditionalGeneration)"));
                Tensor tensor = inner.tensor(nativeName);
                if (nativeName.equals(NATIVE_IMAGE_PROJECTION)) {
                    tensor = transpose(inner.fileOf(nativeName), nativeName, tensor, arena);
                }
                if (tensors.put(remoteName, tensor) != null) {
                    throw new CheckpointException(inner.fileOf(nativeName), nativeName, -1, "maps to '"
                            + remoteName + "', which another tensor already maps to");
                }
                nativeNames.put(remoteName, nativeName);
            }
            return new NativeLayoutCheckpoint(inner, arena, Collections.unmodifiableMap(tensors),
                    Collections.unmodifiableMap(nativeNames));
        } catch (RuntimeException | Error e) {
            arena.close();
            inner.close();
            throw e;
        }
    }

    /** The remote-code name of native tensor {@code nativeName}, if it belongs to the native layout. */
    public static Optional<String> remoteName(String nativeName) {
        for (Rule rule : RULES) {
            Matcher matcher = rule.nativeName().matcher(nativeName);
            if (matcher.matches()) {
                return Optional.of(matcher.replaceFirst(rule.remoteName()));
            }
        }
        return Optional.empty();
    }

    /** {@code [rows, columns]} to a row-major {@code [columns, rows]} copy in {@code arena}. */
    private static Tensor transpose(Path file, String name, Tensor tensor, Arena arena) {
        if (tensor.shape().rank() != 2) {
            throw new CheckpointException(file, name, -1, "has shape " + tensor.shape()
                    + "; the image projection must be a matrix [out, in]");
        }
        int rows = tensor.shape().dim(0);
        int columns = tensor.shape().dim(1);
        Tensor result = Tensor.allocateHost(tensor.dtype(), new Shape(columns, rows), arena);
        MemorySegment source = tensor.memory();
        MemorySegment target = result.memory();
        long elementBytes = tensor.dtype().byteSize();
        for (long row = 0; row < rows; row++) {
            for (long column = 0; column < columns; column++) {
                MemorySegment.copy(source, (row * columns + column) * elementBytes,
                        target, (column * rows + row) * elementBytes, elementBytes);
            }
        }
        return result;
    }

    /** The native name that remote-code name {@code name} was read from, if present. */
    public Optional<String> nativeName(String name) {
        return Optional.ofNullable(nativeNames.get(name));
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public Optional<Tensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    @Override
    public Path fileOf(String name) {
        String nativeName = nativeNames.get(name);
        return inner.fileOf(nativeName == null ? name : nativeName);
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
        inner.close();
    }
}
