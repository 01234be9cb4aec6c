package org.florence2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.RunOptions;
import org.florence2j.Task;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.junit.jupiter.api.Test;

/**
 * Which weights {@code Florence2Options.bf16Decoder} packs in bf16: exactly the decoder's per-step linears (each
 * layer's self-attention q/k/v/out, cross-attention q and out, fc1 and fc2) and the LM head; not the
 * cross-attention's keys and values, the encoder, the projection or the vision tower.
 */
class Bf16DecoderWeightsTest {
    private static final int STEP_LINEARS_PER_LAYER = 8;

    @Test
    void onlyTheDecodersStepWeightsArePackedInBf16() throws Exception {
        Path root = GoldenText.goldenRoot();
        Florence2Config config = ConfigReader.read(root.resolve("model/config.json"));
        int expected = config.text().decoderLayers() * STEP_LINEARS_PER_LAYER + 1;
        try (CpuBackend backend = new CpuBackend(1, DType.F32);
                SafetensorsFile checkpoint = SafetensorsFile.open(root.resolve("model/model.safetensors"))) {
            try (Florence2Model plain = Florence2Model.load(checkpoint, config, backend)) {
                assertEquals(0, backend.packedBf16LinearWeights(), "an F32 model packs nothing in bf16");
            }
            try (Florence2Model mixed = Florence2Model.load(checkpoint, config, backend, DType.BF16)) {
                assertEquals(expected, backend.packedBf16LinearWeights());
            }
            assertThrows(IllegalArgumentException.class,
                    () -> Florence2Model.load(checkpoint, config, backend, DType.F16));
        }
    }

    /** Through the public API: the option reaches the model, whose scores then differ from F32's (bf16 rounding). */
    @Test
    void theOptionReachesTheModelItLoads() throws Exception {
        Path root = GoldenText.goldenRoot();
        Florence2Request request = Florence2Request.of(root.resolve("images/gradient_160x160.png"), Task.CAPTION);
        RunOptions greedy = RunOptions.defaults().greedy().withMaxNewTokens(8);
        Florence2Options f32 = Florence2Options.defaults().withThreads(1);
        float[] plainScores;
        try (Florence2 plain = Florence2.load(root.resolve("model"), f32)) {
            plainScores = plain.run(request, greedy).generation().transitionScores();
        }
        try (Florence2 mixed = Florence2.load(root.resolve("model"), f32.withBf16Decoder(true))) {
            float[] mixedScores = mixed.run(request, greedy).generation().transitionScores();
            assertFalse(Arrays.equals(plainScores, mixedScores), "bf16Decoder left every score as in F32");
        }
    }

    @Test
    void optionsRefuseABf16DecoderOutsideF32OnTheCpu() {
        Florence2Options mixed = Florence2Options.defaults().withBf16Decoder(true);
        assertTrue(mixed.bf16Decoder());
        var dtype = assertThrows(IllegalArgumentException.class, () -> mixed.withDtype(DType.BF16));
        assertTrue(dtype.getMessage().contains("bf16Decoder needs dtype F32 on the CPU"), dtype.getMessage());
        assertThrows(IllegalArgumentException.class, () -> mixed.withDevice(Device.cuda(0)));
        assertEquals(DType.BF16, mixed.withBf16Decoder(false).withDtype(DType.BF16).dtype());
    }
}
