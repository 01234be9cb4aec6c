package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The reference's DaViT {@code Mlp}: {@code fc2(gelu(fc1(x)))}, hidden width {@link VisionConfig#mlpHidden} (4 × the
 * stage's channels in Florence-2). Input and output {@code [batch, tokens, channels]}.
 */
public final class Mlp implements Sublayer {
    private final Tensor fc1Weight; // [hidden, channels]
    private final Tensor fc1Bias;   // [hidden]
    private final Tensor fc2Weight; // [channels, hidden]
    private final Tensor fc2Bias;   // [channels]
    private final int hidden;

    private Mlp(Tensor fc1Weight, Tensor fc1Bias, Tensor fc2Weight, Tensor fc2Bias, int hidden) {
        this.fc1Weight = fc1Weight;
        this.fc1Bias = fc1Bias;
        this.fc2Weight = fc2Weight;
        this.fc2Bias = fc2Bias;
        this.hidden = hidden;
    }

    /**
     * Loads {@code net.fc1.*} and {@code net.fc2.*} under {@code w} (a block's {@code ffn.fn}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or disagrees with the config
     */
    public static Mlp load(Weights w, VisionConfig c, int stage, Backend backend, Arena owner) {
        int channels = c.dimEmbed().get(stage);
        int hidden = c.mlpHidden(stage);
        Weights net = w.at("net");
        return new Mlp(
                Upload.linearWeight(net.at("fc1"), backend, owner, hidden, channels),
                Upload.f32(net.at("fc1"), "bias", backend, owner, hidden),
                Upload.linearWeight(net.at("fc2"), backend, owner, channels, hidden),
                Upload.f32(net.at("fc2"), "bias", backend, owner, channels),
                hidden);
    }

    /**
     * {@code residual += fc2(gelu(fc1(in)))}; both are {@code [batch, tokens, channels]}. The hidden
     * activations are only read by fc2, so they are kept in the backend's {@link Backend#matmulActivationType} (bf16
     * in the CPU's bf16 mode, which fc2 would round them to anyway).
     */
    @Override
    public void forward(ForwardContext ctx, Tensor in, Tensor residual, int height, int width,
            VisionScratch scratch) {
        Backend backend = ctx.backend();
        DType between = backend.matmulActivationType();
        int channels = in.shape().last();
        int rows = Math.toIntExact(in.shape().rows());
        Tensor inRows = in.reshape(Shape.of(rows, channels));
        Tensor stream = residual.reshape(Shape.of(rows, channels));
        // Tokens are independent here: as many rows at a time as the scratch's hidden slot holds.
        int chunk = scratch.rowsFitting(VisionScratch.Slot.HIDDEN, hidden, between);
        for (int first = 0; first < rows; first += chunk) {
            int count = Math.min(chunk, rows - first);
            Tensor act = scratch.view(VisionScratch.Slot.HIDDEN, Shape.of(count, hidden), between); // [rows, hidden]
            backend.linearGelu(act, inRows.narrow(first, count), fc1Weight, fc1Bias);
            backend.linearResidual(stream.narrow(first, count), act, fc2Weight, fc2Bias);
        }
    }
}
