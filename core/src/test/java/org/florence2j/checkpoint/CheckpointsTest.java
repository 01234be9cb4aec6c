package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.florence2j.checkpoint.LoadedCheckpoint.Format;
import org.florence2j.checkpoint.LoadedCheckpoint.Layout;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Checkpoints#open}: every format and layout detected from the folder; a folder that fits none refused. */
class CheckpointsTest {
    @TempDir
    Path dir;

    @Test
    void remoteCodeSafetensors() {
        try (LoadedCheckpoint loaded = Checkpoints.open(TestFiles.golden("tiny/model"))) {
            assertEquals(Format.SAFETENSORS, loaded.format());
            assertEquals(Layout.REMOTE_CODE, loaded.layout());
            assertEquals(51289, loaded.config().text().vocabSize());
            assertEquals(275, loaded.checkpoint().names().size());
            assertTrue(loaded.checkpoint() instanceof SafetensorsFile);
        }
    }

    @Test
    void remoteCodePytorchBin() {
        try (LoadedCheckpoint loaded = Checkpoints.open(TestFiles.golden("tiny-bin/model"))) {
            assertEquals(Format.PYTORCH_BIN, loaded.format());
            assertEquals(Layout.REMOTE_CODE, loaded.layout());
            assertEquals(277, loaded.checkpoint().names().size());
            assertEquals(new Shape(1, 51289), loaded.checkpoint().tensor("language_model.final_logits_bias").shape());
        }
    }

    @Test
    void torch2HalfPytorchBinNextToRemoteConfig() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("f16"));
        Files.copy(TestFiles.golden("tiny-bin/model/config.json"), folder.resolve("config.json"));
        Files.createSymbolicLink(folder.resolve("pytorch_model.bin"),
                TestFiles.golden("tiny-bin/model-f16-torch2/pytorch_model.bin"));
        try (LoadedCheckpoint loaded = Checkpoints.open(folder)) {
            assertEquals(Format.PYTORCH_BIN, loaded.format());
            assertEquals(DType.F16, loaded.checkpoint().tensor("image_projection").dtype());
        }
    }

    @Test
    void nativeSafetensors() {
        try (LoadedCheckpoint loaded = Checkpoints.open(TestFiles.golden("tiny-native/model"))) {
            assertEquals(Format.SAFETENSORS, loaded.format());
            assertEquals(Layout.NATIVE, loaded.layout());
            assertEquals(51328, loaded.config().text().vocabSize());
            assertEquals(2, loaded.config().text().decoderStartTokenId());
            assertTrue(loaded.checkpoint().find("language_model.final_logits_bias").isEmpty());
            assertTrue(loaded.checkpoint().find("language_model.lm_head.weight").isEmpty());
            assertEquals(new Shape(51328, 64),
                    loaded.checkpoint().tensor("language_model.model.shared.weight").shape());
        }
    }

    @Test
    void shardedSafetensors() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("sharded"));
        Files.copy(TestFiles.golden("tiny/model/config.json"), folder.resolve("config.json"));
        ShardedSafetensorsTest.splitGolden(folder);
        try (LoadedCheckpoint loaded = Checkpoints.open(folder);
             SafetensorsFile st = SafetensorsFile.open(TestFiles.golden("tiny/model/model.safetensors"))) {
            assertEquals(Format.SHARDED_SAFETENSORS, loaded.format());
            assertEquals(Layout.REMOTE_CODE, loaded.layout());
            assertEquals(st.names(), loaded.checkpoint().names());
        }
    }

    @Test
    void nativeLayoutWithPytorchBinIsRenamedToo() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("native-bin"));
        Files.copy(TestFiles.golden("tiny-native/model/config.json"), folder.resolve("config.json"));
        Files.copy(TestFiles.golden("tiny-native/model/generation_config.json"),
                folder.resolve("generation_config.json"));
        byte[] pickle = new TestFiles.Pickle().proto().orderedDict().mark()
                .string("model.multi_modal_projector.image_proj_norm.bias")
                .tensor("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1}).op('u').op('.').bytes();
        TestFiles.write(folder.resolve("pytorch_model.bin"), TestFiles.torchZip(pickle,
                Map.of("0", TestFiles.floats(1f, 2f))));
        try (LoadedCheckpoint loaded = Checkpoints.open(folder)) {
            assertEquals(Layout.NATIVE, loaded.layout());
            assertEquals(Format.PYTORCH_BIN, loaded.format());
            assertEquals(2f, loaded.checkpoint().tensor("image_proj_norm.bias").getFloat(1));
        }
    }

    @Test
    void emptyFolderListsWhatIsExpected() {
        assertCheckpointError(() -> Checkpoints.open(dir), "not a Florence-2 model folder", "holds nothing",
                "config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin");
    }

    @Test
    void configWithoutWeightsListsWhatWasFound() throws IOException {
        Files.copy(TestFiles.golden("tiny/model/config.json"), dir.resolve("config.json"));
        Files.writeString(dir.resolve("model.onnx"), "x");
        assertCheckpointError(() -> Checkpoints.open(dir), "no weights", "[config.json, model.onnx]",
                "pytorch_model.bin");
    }

    @Test
    void weightsWithoutConfig() throws IOException {
        Files.copy(TestFiles.golden("tiny-bin/model/generation_config.json"), dir.resolve("pytorch_model.bin"));
        assertCheckpointError(() -> Checkpoints.open(dir), "no config.json", "[pytorch_model.bin]");
    }

    @Test
    void configOfAnotherModel() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"bert\",\"vision_config\":{}}");
        Files.writeString(dir.resolve("model.safetensors"), "x");
        assertCheckpointError(() -> Checkpoints.open(dir), "config.json", "not a Florence-2 config", "'davit'",
                "'florence_vision'");
    }

    @Test
    void notAFolder() {
        Path file = TestFiles.golden("tiny/model/config.json");
        assertCheckpointError(() -> Checkpoints.open(file), "is not a folder", "pytorch_model.bin");
    }

    @Test
    void corruptWeightsAreNamed() throws IOException {
        Files.copy(TestFiles.golden("tiny/model/config.json"), dir.resolve("config.json"));
        Files.writeString(dir.resolve("pytorch_model.bin"), "not a zip at all, just text");
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
        assertCheckpointError(() -> Checkpoints.open(dir), "pytorch_model.bin", "no zip end-of-central-directory");
    }

    @Test
    void missingFolderSaysSo() {
        assertCheckpointError(() -> Checkpoints.open(dir.resolve("nowhere")), "nowhere", "is not a folder",
                "does not exist", "config.json");
    }

    @Test
    void folderThatIsALinkLoopSaysSo() throws IOException {
        Path loop = Files.createSymbolicLink(dir.resolve("loop"), dir.resolve("loop"));
        assertCheckpointError(() -> Checkpoints.open(loop), "loop", "symbolic link loop");
    }

    @Test
    void configThatIsAFolderIsNamed() throws IOException {
        Files.createDirectory(dir.resolve("config.json"));
        Files.copy(TestFiles.golden("tiny/model/model.safetensors"), dir.resolve("model.safetensors"));
        assertCheckpointError(() -> Checkpoints.open(dir), "config.json: is a folder, not a file");
    }

    @Test
    void weightsThatAreALinkLoopOrABrokenLinkAreNamed() throws IOException {
        Files.copy(TestFiles.golden("tiny/model/config.json"), dir.resolve("config.json"));
        Path weights = Files.createSymbolicLink(dir.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        assertCheckpointError(() -> Checkpoints.open(dir), "model.safetensors: cannot be read: symbolic link loop");
        Files.delete(weights);
        Files.createSymbolicLink(weights, dir.resolve("gone.safetensors"));
        assertCheckpointError(() -> Checkpoints.open(dir), "model.safetensors: is a broken symbolic link");
    }

    @Test
    void anUnusableWeightFileGivesWayToTheNextFormat() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("bin"));
        Files.copy(TestFiles.golden("tiny-bin/model/config.json"), folder.resolve("config.json"));
        Files.createSymbolicLink(folder.resolve("pytorch_model.bin"),
                TestFiles.golden("tiny-bin/model/pytorch_model.bin"));
        Files.createSymbolicLink(folder.resolve("model.safetensors"), folder.resolve("gone.safetensors"));
        try (LoadedCheckpoint loaded = Checkpoints.open(folder)) {
            assertEquals(Format.PYTORCH_BIN, loaded.format());
        }
    }
}
