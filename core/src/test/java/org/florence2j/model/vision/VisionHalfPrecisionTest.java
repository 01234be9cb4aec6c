package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Tolerance;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.RecordingTaps;
import org.florence2j.model.RoundedCheckpoint;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real Florence-2 checkpoints are 16-bit: the tiny checkpoint rounded to F16 or BF16 must load, run, and stay near
 * the F32 goldens.
 */
class VisionHalfPrecisionTest {
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void sixteenBitWeightsLoadAndStayNearTheGoldens(DType dtype) {
        Path tiny = VisionGoldenTest.TINY;
        Florence2Config config = ConfigReader.read(tiny.resolve("model/config.json"));
        Backend backend = new ReferenceBackend();
        try (SafetensorsFile f32 = SafetensorsFile.open(tiny.resolve("model/model.safetensors"));
                SafetensorsFile golden =
                        SafetensorsFile.open(tiny.resolve("cases/image0_gradient_160x160.safetensors"));
                Arena arena = Arena.ofConfined();
                RecordingTaps taps = new RecordingTaps(backend)) {
            Weights root = Weights.of(new RoundedCheckpoint(f32, dtype, arena));
            DaViT davit = DaViT.load(root.at("vision_tower"), config.vision(), backend, arena);
            ImageProjector projector = ImageProjector.load(root, config, backend, arena);
            ForwardContext ctx = new ForwardContext(backend, arena, taps);
            Tensor pixels = golden.tensor("pixel_values");
            Tensor tokens = ctx.allocate(davit.outputShape(1, pixels.shape().dim(2), pixels.shape().dim(3)));
            davit.forward(ctx, pixels, tokens);
            Tensor features = ctx.allocate(projector.outputShape(1, tokens.shape().dim(1)));
            projector.forward(ctx, tokens, davit.outputSize(pixels.shape().dim(2)),
                    davit.outputSize(pixels.shape().dim(3)), features);
            Tensor expected = golden.tensor("image_features");
            halfPrecisionTolerance(dtype).assertClose(dtype + " image_features", expected, taps.get("image_features"));
        } finally {
            backend.close();
        }
    }

    /**
     * image_features are LayerNorm outputs of unit scale; rounding every weight once costs a few unit roundoffs per
     * layer, compounded over ~20 layers. We allow 40 unit roundoffs (F16 u = 4.9e-4, BF16 u = 3.9e-3); measured on
     * image 0 with ReferenceBackend: max abs error 5.5e-3 (F16) and 5.8e-2 (BF16).
     */
    private static Tolerance halfPrecisionTolerance(DType dtype) {
        double unitRoundoff = dtype == DType.F16 ? 0x1p-11 : 0x1p-8;
        return new Tolerance(40 * unitRoundoff, 0);
    }
}
