package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.florence2j.checkpoint.TestFiles.assertSameVisionFields;
import static org.florence2j.checkpoint.TestFiles.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.NativeConfigReader;
import org.florence2j.config.VisionConfig.Implementation;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NativeLayoutCheckpoint} and {@link NativeConfigReader} on {@code golden/tiny-native}, the tiny model as
 * transformers' conversion script writes it: under remote-code names every tensor equals the remote one (the
 * projection transposed back, {@code shared} with its padded rows), and the config equals the remote config except
 * for the padded vocabulary.
 */
class NativeLayoutCheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int REMOTE_VOCAB = 51289;
    private static final int NATIVE_VOCAB = 51328;

    @TempDir
    Path dir;

    @Test
    void nativeTensorsEqualRemoteOnesUnderRemoteNames() {
        try (var nat = NativeLayoutCheckpoint.wrap(SafetensorsFile.open(golden("tiny-native/model/model.safetensors")));
             var remote = SafetensorsFile.open(golden("tiny/model/model.safetensors"))) {
            assertEquals(273, nat.names().size());
            Set<String> expected = new HashSet<>(remote.names());
            expected.remove("language_model.final_logits_bias");
            expected.remove("language_model.lm_head.weight");
            assertEquals(expected, nat.names(), "names are the remote ones, minus the bias and lm_head");
            assertTrue(nat.find("language_model.final_logits_bias").isEmpty(), "no bias is invented");
            for (String name : nat.names()) {
                Tensor actual = nat.tensor(name);
                Tensor want = remote.tensor(name);
                switch (name) {
                    case "image_projection" -> assertTransposed(want, actual);
                    case "language_model.model.shared.weight" -> {
                        assertEquals(new Shape(NATIVE_VOCAB, 64), actual.shape());
                        assertEquals(-1, want.memory().mismatch(actual.narrow(0, REMOTE_VOCAB).memory()), name);
                    }
                    default -> {
                        assertEquals(want.shape(), actual.shape(), name);
                        assertEquals(-1, want.memory().mismatch(actual.memory()), name);
                    }
                }
            }
            assertEquals(Optional.of("model.multi_modal_projector.image_projection.weight"),
                    nat.nativeName("image_projection"));
            assertEquals(golden("tiny-native/model/model.safetensors"), nat.fileOf("image_projection"));
        }
    }

    private static void assertTransposed(Tensor remote, Tensor actual) {
        assertEquals(remote.shape(), actual.shape());
        int rows = remote.shape().dim(0);
        int columns = remote.shape().dim(1);
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                assertEquals(remote.getFloat((long) row * columns + column),
                        actual.getFloat((long) row * columns + column), "image_projection[" + row + "," + column + "]");
            }
        }
    }

    @Test
    void mappingTableRows() {
        String[][] rows = {
            {"model.vision_tower.convs.2.conv.weight", "vision_tower.convs.2.proj.weight"},
            {"model.vision_tower.convs.0.norm.bias", "vision_tower.convs.0.norm.bias"},
            {"model.vision_tower.blocks.2.1.spatial_block.conv1.weight",
                "vision_tower.blocks.2.1.spatial_block.conv1.fn.dw.weight"},
            {"model.vision_tower.blocks.0.0.channel_block.conv2.bias",
                "vision_tower.blocks.0.0.channel_block.conv2.fn.dw.bias"},
            {"model.vision_tower.blocks.0.0.spatial_block.norm1.weight",
                "vision_tower.blocks.0.0.spatial_block.window_attn.norm.weight"},
            {"model.vision_tower.blocks.3.0.channel_block.norm1.bias",
                "vision_tower.blocks.3.0.channel_block.channel_attn.norm.bias"},
            {"model.vision_tower.blocks.1.0.spatial_block.window_attn.qkv.weight",
                "vision_tower.blocks.1.0.spatial_block.window_attn.fn.qkv.weight"},
            {"model.vision_tower.blocks.1.0.channel_block.channel_attn.proj.bias",
                "vision_tower.blocks.1.0.channel_block.channel_attn.fn.proj.bias"},
            {"model.vision_tower.blocks.0.0.channel_block.norm2.weight",
                "vision_tower.blocks.0.0.channel_block.ffn.norm.weight"},
            {"model.vision_tower.blocks.0.0.spatial_block.ffn.fc2.weight",
                "vision_tower.blocks.0.0.spatial_block.ffn.fn.net.fc2.weight"},
            {"model.multi_modal_projector.image_projection.weight", "image_projection"},
            {"model.multi_modal_projector.image_proj_norm.bias", "image_proj_norm.bias"},
            {"model.multi_modal_projector.image_position_embed.column_embeddings.weight",
                "image_pos_embed.column_embeddings.weight"},
            {"model.multi_modal_projector.visual_temporal_embed.pos_idx_to_embed",
                "visual_temporal_embed.pos_idx_to_embed"},
            {"model.language_model.encoder.layers.1.fc1.weight", "language_model.model.encoder.layers.1.fc1.weight"},
            {"model.language_model.shared.weight", "language_model.model.shared.weight"},
            {"lm_head.weight", "language_model.lm_head.weight"},
        };
        for (String[] row : rows) {
            assertEquals(Optional.of(row[1]), NativeLayoutCheckpoint.remoteName(row[0]), row[0]);
        }
        assertEquals(Optional.empty(), NativeLayoutCheckpoint.remoteName("vision_tower.convs.0.proj.weight"));
    }

    @Test
    void unknownNativeNameIsRefused() {
        Path file = TestFiles.safetensors(dir.resolve("odd.safetensors"),
                "{\"model.vision_tower.head.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                floats(1f));
        assertCheckpointError(() -> NativeLayoutCheckpoint.wrap(SafetensorsFile.open(file)), "odd.safetensors",
                "tensor 'model.vision_tower.head.weight'", "not part of the native Florence-2 layout");
    }

    @Test
    void projectionMustBeAMatrix() {
        Path file = TestFiles.safetensors(dir.resolve("proj.safetensors"), "{\""
                + NativeLayoutCheckpoint.NATIVE_IMAGE_PROJECTION
                + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", floats(1f, 2f));
        assertCheckpointError(() -> NativeLayoutCheckpoint.wrap(SafetensorsFile.open(file)),
                "image_projection.weight", "must be a matrix");
    }

    @Test
    void nativeConfigEqualsRemoteConfigButForTheVocabulary() throws IOException {
        Florence2Config remote = ConfigReader.read(golden("tiny/model/config.json"));
        Florence2Config nat = NativeConfigReader.read(golden("tiny-native/model/config.json"),
                golden("tiny-native/model/generation_config.json"));
        assertSameVisionFields(remote.vision(), nat.vision());
        assertEquals(Implementation.REMOTE_CODE, remote.vision().implementation());
        assertEquals(Implementation.NATIVE, nat.vision().implementation());
        assertEquals(remote.projectionDim(), nat.projectionDim());
        assertEquals(NATIVE_VOCAB, nat.text().vocabSize());
        ObjectNode remoteText = JSON.valueToTree(remote.text());
        ObjectNode nativeText = JSON.valueToTree(nat.text());
        remoteText.put("vocab_size", NATIVE_VOCAB);
        assertEquals(remoteText, nativeText, "ids and generation settings come from generation_config.json");
        assertTrue(NativeConfigReader.isNative(JSON.readTree(golden("tiny-native/model/config.json").toFile())));
        assertFalse(NativeConfigReader.isNative(JSON.readTree(golden("tiny/model/config.json").toFile())));
    }

    @Test
    void nativeConfigNeedsADecoderStartTokenInTheGenerationConfig() throws IOException {
        // generate() reads the file alone: text_config's ids (BartConfig's defaults) do not fill in for it.
        Path generation = Files.writeString(dir.resolve("generation_config.json"), "{\"num_beams\":3}");
        CheckpointException e = assertCheckpointError(() -> NativeConfigReader.read(
                golden("tiny-native/model/config.json"), generation), "generation_config.json",
                "from generation_config.json, have neither decoder_start_token_id nor bos_token_id");
        assertEquals(generation, e.file(), "the settings are the file's, and so is their fault");
        Path absent = dir.resolve("absent/generation_config.json");
        assertEquals(2, NativeConfigReader.read(golden("tiny-native/model/config.json"), absent).text()
                .decoderStartTokenId(), "without the file, the model config's (BartConfig's default)");
    }

    private static Path golden(String name) {
        return TestFiles.golden(name);
    }
}
