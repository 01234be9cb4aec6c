package org.florence2j.model.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.florence2j.backend.Backend;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A missing or misshapen vision weight fails at load with a {@link CheckpointException} naming it. */
class VisionWeightsErrorTest {
    private Florence2Config config;
    private SafetensorsFile tiny;
    private Backend backend;
    private Arena arena;

    @BeforeEach
    void open() {
        config = ConfigReader.read(VisionGoldenTest.TINY.resolve("model/config.json"));
        tiny = SafetensorsFile.open(VisionGoldenTest.TINY.resolve("model/model.safetensors"));
        backend = new ReferenceBackend();
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        arena.close();
        backend.close();
        tiny.close();
    }

    @Test
    void missingTensorIsNamed() {
        String name = "vision_tower.blocks.2.1.channel_block.channel_attn.fn.qkv.weight";
        Weights broken = Weights.of(new Altered(tiny, n -> n.equals(name) ? Optional.empty() : tiny.find(n)));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> DaViT.load(broken.at("vision_tower"), config.vision(), backend, arena));
        assertEquals(Optional.of(name), e.tensor());
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void wrongShapeNamesTensorAndBothShapes() {
        String name = "vision_tower.convs.1.proj.weight";
        Tensor wrong = Tensor.allocateHost(DType.F32, Shape.of(32, 16, 2, 2), arena);
        Weights broken = Weights.of(new Altered(tiny, n -> n.equals(name) ? Optional.of(wrong) : tiny.find(n)));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> DaViT.load(broken.at("vision_tower"), config.vision(), backend, arena));
        assertTrue(e.getMessage().contains(name), e.getMessage());
        assertTrue(e.getMessage().contains("[32, 16, 2, 2]") && e.getMessage().contains("[32, 16, 3, 3]"),
                e.getMessage());
    }

    @Test
    void projectorWeightsAreCheckedToo() {
        String name = "image_projection";
        Tensor wrong = Tensor.allocateHost(DType.F32, Shape.of(64, 32), arena);
        Weights broken = Weights.of(new Altered(tiny, n -> n.equals(name) ? Optional.of(wrong) : tiny.find(n)));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> ImageProjector.load(broken, config, backend, arena));
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains("[64, 32]")
                && e.getMessage().contains("[64, 64]"), e.getMessage());
    }

    /** A checkpoint whose tensors are looked up through {@code find}, to hide or replace one. */
    private record Altered(Checkpoint base, Function<String, Optional<Tensor>> find) implements Checkpoint {
        @Override
        public Set<String> names() {
            return base.names();
        }

        @Override
        public Optional<Tensor> find(String name) {
            return find.apply(name);
        }

        @Override
        public Path fileOf(String name) {
            return base.fileOf(name);
        }

        @Override
        public void close() {
            // The test closes the base checkpoint itself.
        }
    }
}
