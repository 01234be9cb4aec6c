package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.VisionConfig;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The DaViT vision tower up to its last stage's tokens: the reference's {@code DaViT.forward_features_unpool}
 * ({@code modeling_florence2.py}). Each stage is a {@link ConvEmbed} followed by {@code depths[stage]} pairs of
 * {@link SpatialBlock} and {@link ChannelBlock}; the classifier's {@code norms}, {@code avgpool} and {@code head} are
 * not part of Florence-2 (its model deletes them).
 *
 * <p>Input {@code pixel_values [batch, 3, height, width]} (channels first, as the image processor makes them);
 * output {@code [batch, h·w, dim_embed[-1]]} with {@code h × w} the last stage's feature map (24 × 24 for a
 * 768-pixel image). Taps {@code davit_stage<i>_after_conv} (the stage's ConvEmbed output) and
 * {@code davit_stage<i>_out}.
 *
 * <pre>{@code
 * DaViT davit = DaViT.load(Weights.of(checkpoint).at("vision_tower"), config.vision(), backend, modelArena);
 * Tensor features = ctx.allocate(davit.outputShape(batch, 768, 768));
 * davit.forward(ctx, pixelValues, features);
 * }</pre>
 */
public final class DaViT {
    private final VisionConfig config;
    private final List<ConvEmbed> convs;
    private final List<List<BlockPair>> blocks; // per stage, depths[stage] pairs

    /** One entry of a stage's {@code MySequential}: a spatial block then a channel block. */
    private record BlockPair(SpatialBlock spatialBlock, ChannelBlock channelBlock) {}

    private DaViT(VisionConfig config, List<ConvEmbed> convs, List<List<BlockPair>> blocks) {
        this.config = config;
        this.convs = convs;
        this.blocks = blocks;
    }

    /**
     * Loads the tower and uploads its weights to {@code backend} as F32, owned by {@code owner}.
     *
     * @param visionTower the weights under {@code vision_tower.}
     * @throws org.florence2j.checkpoint.CheckpointException naming the tensor (and both shapes) when one is missing
     *                                                       or disagrees with {@code config}
     */
    public static DaViT load(Weights visionTower, VisionConfig config, Backend backend, Arena owner) {
        List<ConvEmbed> convs = new ArrayList<>();
        List<List<BlockPair>> blocks = new ArrayList<>();
        for (int stage = 0; stage < config.stages(); stage++) {
            convs.add(ConvEmbed.load(visionTower.at("convs").at(stage), config, stage, backend, owner));
            List<BlockPair> pairs = new ArrayList<>();
            for (int i = 0; i < config.depths().get(stage); i++) {
                Weights pair = visionTower.at("blocks").at(stage).at(i);
                pairs.add(new BlockPair(
                        SpatialBlock.load(pair.at("spatial_block"), config, stage, backend, owner),
                        ChannelBlock.load(pair.at("channel_block"), config, stage, backend, owner)));
            }
            blocks.add(List.copyOf(pairs));
        }
        return new DaViT(config, List.copyOf(convs), List.copyOf(blocks));
    }

    /** The last stage's feature-map side for an image side of {@code imageSize} pixels. */
    public int outputSize(int imageSize) {
        int size = imageSize;
        for (ConvEmbed conv : convs) {
            size = conv.outputSize(size);
        }
        return size;
    }

    /** The output shape {@code [batch, outputSize(height)·outputSize(width), dim_embed[-1]]}. */
    public Shape outputShape(int batch, int height, int width) {
        return Shape.of(batch, outputSize(height) * outputSize(width), config.lastDim());
    }

    /**
     * Allocates, in {@code ctx}'s arena, every activation buffer a forward pass over {@code batch} images of
     * {@code height × width} pixels needs (or fewer images, or smaller ones). Reuse it across passes.
     */
    public VisionScratch newScratch(ForwardContext ctx, int batch, int height, int width) {
        return newScratch(ctx, batch, height, width, null);
    }

    /**
     * {@link #newScratch(ForwardContext, int, int, int)} that puts what fits of the scratch in {@code lent}, memory
     * of the caller's that no one else uses while this tower runs (a session's text scratch), and allocates only the
     * rest in {@code ctx}'s arena.
     *
     * @param lent an F32 tensor on {@code ctx}'s backend, or {@code null}
     */
    public VisionScratch newScratch(ForwardContext ctx, int batch, int height, int width, Tensor lent) {
        return new VisionScratch(ctx, slotElements(ctx.backend(), batch, height, width), lent);
    }

    /**
     * The F32 elements {@link #newScratch} takes on {@code backend} for {@code batch} images of {@code height ×
     * width}: lent memory at least this large holds the whole scratch.
     */
    public long scratchElements(Backend backend, int batch, int height, int width) {
        return VisionScratch.totalElements(slotElements(backend, batch, height, width));
    }

    private Map<VisionScratch.Slot, Long> slotElements(Backend backend, int batch, int height, int width) {
        Map<VisionScratch.Slot, Long> elements = new EnumMap<>(VisionScratch.Slot.class);
        // The windows, q/k/v, the attention output and the MLP's hidden layer are kept in the matmul activation type
        // (WindowAttention, ChannelAttention, Mlp): their slots hold that many bytes, half in bf16 mode.
        int betweenBytes = backend.matmulActivationType().byteSize();
        // The channel-last pixels are dead once the first patch embedding has read them, before any block uses their
        // slot as its second map.
        elements.put(VisionScratch.Slot.STAGE_ODD, (long) batch * height * width * ConvEmbed.IMAGE_CHANNELS);
        int h = height;
        int w = width;
        for (int stage = 0; stage < convs.size(); stage++) {
            // A pre-normalised input goes to QKV (ConvEmbed.forward); at stage 0 it is the whole image.
            elements.merge(VisionScratch.Slot.QKV, f32Elements(convs.get(stage).preNormalisedElements(batch, h, w),
                    betweenBytes), Math::max);
            h = convs.get(stage).outputSize(h);
            w = convs.get(stage).outputSize(w);
            int window = config.windowSize();
            int channels = config.dimEmbed().get(stage);
            long tokens = (long) batch * h * w * channels;                                       // [batch, h·w, C]
            long band = (long) WindowAttention.windowsAcross(w, window) * window * window * channels; // one band
            // A stage's activations stay in its parity's slot (the last stage's in the caller's output); its blocks'
            // second map is the other parity's slot, which its convolution read.
            if (stage < convs.size() - 1) {
                elements.merge(mapSlot(stage), tokens, Math::max);
            }
            elements.merge(mapSlot(stage - 1), tokens, Math::max);
            // WINDOWS: one band of windows, then its attention output; QKV: the whole map's q/k/v (channel attention)
            // or one band's; HIDDEN: as many tokens' MLP activations as QKV holds q/k/v, so that the MLP (in chunks)
            // never sets the size of the sub-layers' shared buffer.
            elements.merge(VisionScratch.Slot.WINDOWS, f32Elements(band, betweenBytes), Math::max);
            long qkv = f32Elements(3 * Math.max(tokens, band), betweenBytes);
            elements.merge(VisionScratch.Slot.QKV, qkv, Math::max);
            elements.merge(VisionScratch.Slot.HIDDEN, Math.max(qkv, f32Elements(config.mlpHidden(stage),
                    betweenBytes)), Math::max);
        }
        return elements;
    }

    /** The slot holding stage {@code stage}'s activations (stage -1: the channel-last pixels). */
    private static VisionScratch.Slot mapSlot(int stage) {
        return Math.floorMod(stage, 2) == 0 ? VisionScratch.Slot.STAGE_EVEN : VisionScratch.Slot.STAGE_ODD;
    }

    /** The F32 elements (the scratch's unit) that hold {@code elements} values of {@code bytes} bytes each. */
    private static long f32Elements(long elements, int bytes) {
        return (elements * bytes + Float.BYTES - 1) / Float.BYTES;
    }

    /** {@link #forward(ForwardContext, Tensor, Tensor, VisionScratch)} with a scratch made for this call. */
    public void forward(ForwardContext ctx, Tensor pixelValues, Tensor out) {
        Shape pixels = pixelValues.shape();
        requireImage(pixels);
        forward(ctx, pixelValues, out, newScratch(ctx, pixels.dim(0), pixels.dim(2), pixels.dim(3)));
    }

    /**
     * Runs the tower.
     *
     * @param pixelValues {@code [batch, 3, height, width]}, F32, normalised
     * @param out         {@link #outputShape}{@code (batch, height, width)}
     * @param scratch     from {@link #newScratch} for at least this batch and image size
     * @throws IllegalArgumentException when a shape does not fit
     */
    public void forward(ForwardContext ctx, Tensor pixelValues, Tensor out, VisionScratch scratch) {
        Shape pixels = pixelValues.shape();
        requireImage(pixels);
        int batch = pixels.dim(0);
        int height = pixels.dim(2);
        int width = pixels.dim(3);
        Shape expected = outputShape(batch, height, width);
        if (!out.shape().equals(expected)) {
            throw new IllegalArgumentException("DaViT.forward: output " + out.shape() + " for pixel_values " + pixels
                    + " must be " + expected);
        }
        Tensor x = scratch.view(mapSlot(-1), Shape.of(batch, height * width, pixels.dim(1)));
        ctx.backend().channelsLast(x, pixelValues);
        for (int stage = 0; stage < convs.size(); stage++) {
            ctx.throwIfCancelled();
            ConvEmbed conv = convs.get(stage);
            int h = conv.outputSize(height);
            int w = conv.outputSize(width);
            Shape shape = Shape.of(batch, h * w, conv.outChannels());
            // The last stage works in place in out; others alternate so a stage never overwrites its input.
            Tensor current = stage == convs.size() - 1 ? out : scratch.view(mapSlot(stage), shape);
            conv.forward(ctx, x, current, height, width, scratch);
            ctx.tap("davit_stage" + stage + "_after_conv", current);
            // The convolution's input is dead: the blocks' second map.
            Tensor second = scratch.view(mapSlot(stage - 1), shape);
            for (BlockPair pair : blocks.get(stage)) {
                ctx.throwIfCancelled();
                pair.spatialBlock().forward(ctx, current, second, h, w, scratch);
                pair.channelBlock().forward(ctx, current, second, h, w, scratch);
            }
            ctx.tap("davit_stage" + stage + "_out", current);
            x = current;
            height = h;
            width = w;
        }
    }

    private static void requireImage(Shape pixels) {
        if (pixels.rank() != 4 || pixels.dim(1) != ConvEmbed.IMAGE_CHANNELS) {
            throw new IllegalArgumentException("DaViT.forward: pixel_values must be [batch, "
                    + ConvEmbed.IMAGE_CHANNELS + ", height, width], got " + pixels);
        }
    }
}
