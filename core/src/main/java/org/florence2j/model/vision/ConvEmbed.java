package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.config.VisionConfig.Implementation;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Tensor;

/**
 * The reference's DaViT {@code ConvEmbed}: a strided convolution ({@code proj}) that opens each stage, with a
 * LayerNorm ({@code norm}) before it (patch_prenorm) or after it. Input {@code [batch, height·width, inChannels]},
 * output {@code [batch, outHeight·outWidth, outChannels]}.
 */
public final class ConvEmbed {
    /** Pixel channels fed to the first stage (the reference's {@code in_chans}). */
    public static final int IMAGE_CHANNELS = 3;

    private final Tensor projWeight; // [outChannels, inChannels, kernel, kernel]
    private final Tensor projBias;   // [outChannels]
    private final LayerNorm norm;    // over inChannels when preNorm, else over outChannels; null when never applied
    private final boolean preNorm;
    private final int kernel;
    private final int stride;
    private final int padding;
    private final int inChannels;
    private final int outChannels;

    private ConvEmbed(Tensor projWeight, Tensor projBias, LayerNorm norm, boolean preNorm, int kernel, int stride,
            int padding, int inChannels, int outChannels) {
        this.projWeight = projWeight;
        this.projBias = projBias;
        this.norm = norm;
        this.preNorm = preNorm;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.inChannels = inChannels;
        this.outChannels = outChannels;
    }

    /**
     * Loads stage {@code stage}'s patch embedding from {@code w} (e.g. {@code vision_tower.convs.<stage>}).
     *
     * @throws org.florence2j.checkpoint.CheckpointException when a tensor is missing or disagrees with the config
     */
    public static ConvEmbed load(Weights w, VisionConfig c, int stage, Backend backend, Arena owner) {
        int inChannels = stage == 0 ? IMAGE_CHANNELS : c.dimEmbed().get(stage - 1);
        int outChannels = c.dimEmbed().get(stage);
        int kernel = c.patchSize().get(stage);
        boolean preNorm = c.patchPrenorm().get(stage);
        LayerNorm norm = LayerNorm.load(w.at("norm"), preNorm ? inChannels : outChannels, backend, owner);
        // The remote ConvEmbed only pre-normalises a token sequence (3-D input); stage 0 gets the 4-D image, so a
        // configured pre-norm there is loaded but never applied. The native Florence2VisionConvEmbed applies it to
        // the image's channels.
        boolean unusedNorm = preNorm && stage == 0 && c.implementation() == Implementation.REMOTE_CODE;
        return new ConvEmbed(
                Upload.convWeight(w.at("proj"), backend, owner, outChannels, inChannels, kernel, kernel),
                Upload.f32(w.at("proj"), "bias", backend, owner, outChannels),
                unusedNorm ? null : norm, preNorm,
                kernel, c.patchStride().get(stage), c.patchPadding().get(stage), inChannels, outChannels);
    }

    /**
     * The input elements {@link #forward} keeps pre-normalised in its scratch for an input of {@code height ×
     * width} tokens, 0 when it does not pre-normalise.
     */
    long preNormalisedElements(int batch, int height, int width) {
        return preNorm && norm != null ? (long) batch * height * width * inChannels : 0;
    }

    /** The output side for an input side of {@code size} (PyTorch's conv arithmetic). */
    public int outputSize(int size) {
        return Math.toIntExact(VisionConfig.convOutputSize(size, kernel, stride, padding));
    }

    /** Channels of the output. */
    public int outChannels() {
        return outChannels;
    }

    /**
     * @param in      {@code [batch, height·width, inChannels]}, F32
     * @param out     {@code [batch, outputSize(height)·outputSize(width), outChannels]}; must not alias {@code in}
     * @param scratch holds the pre-normalised input ({@link VisionScratch.Slot#QKV}, free between blocks)
     */
    void forward(ForwardContext ctx, Tensor in, Tensor out, int height, int width, VisionScratch scratch) {
        Tensor convInput = in;
        if (preNorm && norm != null) {
            // In the matmul activation type: in bf16 mode the norm's rounding is what lets the convolution run its
            // bf16 kernel (and it reads half the bytes).
            convInput = scratch.view(VisionScratch.Slot.QKV, in.shape(), ctx.backend().matmulActivationType());
            norm.forward(ctx, in, convInput);
        }
        ctx.backend().conv2d(out, convInput, height, width, projWeight, projBias, stride, padding);
        if (!preNorm) {
            norm.forward(ctx, out, out);
        }
    }
}
