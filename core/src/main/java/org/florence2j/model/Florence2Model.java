package org.florence2j.model;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.text.BartDecoder;
import org.florence2j.model.text.BartModel;
import org.florence2j.model.vision.DaViT;
import org.florence2j.model.vision.ImageProjector;
import org.florence2j.tensor.DType;

/**
 * A loaded Florence-2 model, the reference's {@code Florence2ForConditionalGeneration}: the DaViT vision tower,
 * the image projection and the BART language model, with weights uploaded to one backend in the model's own
 * arena. Requests run in a {@link Session} ({@link #newSession}).
 */
public final class Florence2Model implements AutoCloseable {
    private final Backend backend;
    private final Florence2Config config;
    private final Arena arena;
    private final DaViT davit;
    private final ImageProjector projector;
    private final BartModel text;

    private Florence2Model(Backend backend, Florence2Config config, Arena arena, DaViT davit,
            ImageProjector projector, BartModel text) {
        this.backend = backend;
        this.config = config;
        this.arena = arena;
        this.davit = davit;
        this.projector = projector;
        this.text = text;
    }

    /**
     * Loads every weight by its remote-code name ({@code vision_tower.*}, {@code image_projection},
     * {@code image_proj_norm.*}, {@code image_pos_embed.*}, {@code language_model.*}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or its shape disagrees with
     *                                                       {@code config}
     */
    public static Florence2Model load(Checkpoint checkpoint, Florence2Config config, Backend backend) {
        return load(checkpoint, config, backend, DType.F32);
    }

    /**
     * {@link #load} with the decoder's per-step weights uploaded for {@code stepWeightType} (see
     * {@link BartDecoder#load(Weights, org.florence2j.config.TextConfig, Backend, Arena, DType)}): {@link DType#F32},
     * or {@link DType#BF16} on the CPU ({@code Florence2Options.bf16Decoder}).
     *
     * @throws IllegalArgumentException when {@code stepWeightType} is neither F32 nor BF16, or BF16 off the CPU
     */
    public static Florence2Model load(Checkpoint checkpoint, Florence2Config config, Backend backend,
            DType stepWeightType) {
        if (stepWeightType != DType.F32 && (stepWeightType != DType.BF16 || !backend.device().isHost())) {
            throw new IllegalArgumentException("the decoder's step weights are F32, or BF16 on the CPU, not "
                    + stepWeightType + " on " + backend.device());
        }
        Arena arena = Arena.ofShared();
        try {
            Weights root = Weights.of(checkpoint);
            DaViT davit = DaViT.load(root.at("vision_tower"), config.vision(), backend, arena);
            ImageProjector projector = ImageProjector.load(root, config, backend, arena);
            BartModel text = BartModel.load(root.at("language_model"), config.text(), backend, arena,
                    stepWeightType);
            return new Florence2Model(backend, config, arena, davit, projector, text);
        } catch (RuntimeException | Error e) {
            // An OutOfMemoryError too: the weights packed so far (gigabytes) are freed, not kept for good.
            arena.close();
            throw e;
        }
    }

    /** A session whose buffers are sized for {@code limits}; close it before the model. */
    public Session newSession(Session.Limits limits) {
        return new Session(this, limits);
    }

    public Backend backend() {
        return backend;
    }

    public Florence2Config config() {
        return config;
    }

    public DaViT davit() {
        return davit;
    }

    public ImageProjector projector() {
        return projector;
    }

    public BartModel text() {
        return text;
    }

    /** Frees the weights' device copies. Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
