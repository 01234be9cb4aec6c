package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * The reference's DaViT {@code ChannelAttention}: attention between channels within {@code num_groups[stage]}
 * groups, every token taking part. Input and output {@code [batch, tokens, channels]}.
 */
public final class ChannelAttention implements Sublayer {
    private final Tensor qkvWeight;  // [3·channels, channels]
    private final Tensor qkvBias;    // [3·channels], or null without qkv_bias
    private final Tensor projWeight; // [channels, channels]
    private final Tensor projBias;   // [channels]
    private final int groups;

    private ChannelAttention(Tensor qkvWeight, Tensor qkvBias, Tensor projWeight, Tensor projBias, int groups) {
        this.qkvWeight = qkvWeight;
        this.qkvBias = qkvBias;
        this.projWeight = projWeight;
        this.projBias = projBias;
        this.groups = groups;
    }

    /**
     * Loads {@code qkv.*} and {@code proj.*} under {@code w} (a channel block's {@code channel_attn.fn}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or disagrees with the config
     */
    public static ChannelAttention load(Weights w, VisionConfig c, int stage, Backend backend, Arena owner) {
        int channels = c.dimEmbed().get(stage);
        return new ChannelAttention(
                Upload.linearWeight(w.at("qkv"), backend, owner, 3 * channels, channels),
                c.qkvBias() ? Upload.f32(w.at("qkv"), "bias", backend, owner, 3 * channels) : null,
                Upload.linearWeight(w.at("proj"), backend, owner, channels, channels),
                Upload.f32(w.at("proj"), "bias", backend, owner, channels),
                c.numGroups().get(stage));
    }

    /** {@code residual += proj(channelAttention(qkv(in)))}; both {@code [batch, tokens, channels]}. */
    @Override
    public void forward(ForwardContext ctx, Tensor in, Tensor residual, int height, int width,
            VisionScratch scratch) {
        Backend backend = ctx.backend();
        int tokens = in.shape().dim(1);
        // q/k/v and the groups' output only pass between matmuls: kept in the backend's matmul activation type.
        DType between = backend.matmulActivationType();
        Tensor qkv = scratch.view(VisionScratch.Slot.QKV, in.shape().withDim(-1, 3 * in.shape().last()), between);
        backend.linear(qkv, in, qkvWeight, qkvBias);
        // The normed input is dead once q/k/v are projected: the groups' output goes over it.
        Tensor attended = in; // [batch, tokens, C]
        // ChannelAttention scales q by N^-0.5 with N the number of tokens, not the group's channel count.
        backend.channelAttention(attended, qkv, groups, (float) Math.pow(tokens, -0.5));
        backend.linearResidual(residual, attended, projWeight, projBias);
    }
}
