package org.florence2j.model.text;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.model.Cancellation;
import org.florence2j.model.Taps;
import org.florence2j.tensor.Tensor;

/**
 * The BART encoder, mirroring the reference's {@code Florence2Encoder} when called with {@code inputs_embeds}
 * (Florence-2 always does: image features ++ token embeddings, unscaled):
 * {@code x = layernorm_embedding(inputs_embeds + embed_positions[2 … tokens + 1])}, then the layers.
 *
 * <p>Input and output are {@code [1, tokens, channels]}: the encoder runs one request row at a time, so rows of a
 * batch with different prompt lengths never see padding (the reference pads and attends to it).
 *
 * <p>Taps: {@code encoder_last_hidden_state}.
 */
public final class BartEncoder {
    private final Tensor embedPositions; // [maxPositions + 2, channels]
    private final LayerNorm layernormEmbedding;
    private final List<BartEncoderLayer> layers;
    private final int channels;
    private final int ffn;

    private BartEncoder(Tensor embedPositions, LayerNorm layernormEmbedding, List<BartEncoderLayer> layers,
            int channels, int ffn) {
        this.embedPositions = embedPositions;
        this.layernormEmbedding = layernormEmbedding;
        this.layers = layers;
        this.channels = channels;
        this.ffn = ffn;
    }

    /** Loads {@code language_model.model.encoder} given as {@code w}. */
    public static BartEncoder load(Weights w, TextConfig c, Backend backend, Arena arena) {
        int channels = c.dModel();
        Tensor positions = Linear.upload(w.at("embed_positions"), "weight", backend, arena,
                c.maxPositionEmbeddings() + TextConfig.POSITION_OFFSET, channels);
        List<BartEncoderLayer> layers = new ArrayList<>();
        for (int i = 0; i < c.encoderLayers(); i++) {
            layers.add(BartEncoderLayer.load(w.at("layers").at(i), c, backend, arena));
        }
        return new BartEncoder(positions, LayerNorm.load(w, "layernorm_embedding", channels, backend, arena),
                List.copyOf(layers), channels, c.encoderFfnDim());
    }

    /** The longest input the learned positions cover. */
    public int maxTokens() {
        return embedPositions.shape().dim(0) - TextConfig.POSITION_OFFSET;
    }

    /** Scratch for inputs of up to {@code maxTokens} tokens, owned by {@code arena}. */
    public Workspace newWorkspace(Backend backend, Arena arena, int maxTokens) {
        return newWorkspace(ScratchBlock.allocate(backend, arena, scratchElements(maxTokens)), maxTokens);
    }

    /** Scratch for inputs of up to {@code maxTokens} tokens, taken from {@code block}. */
    public Workspace newWorkspace(ScratchBlock block, int maxTokens) {
        return new Workspace(block.take(scratchElements(maxTokens)), maxTokens);
    }

    /** The F32 elements {@link #newWorkspace} takes for {@code maxTokens}. */
    public long scratchElements(int maxTokens) {
        return (long) maxTokens * (6L * channels + ffn);
    }

    /**
     * Encodes one request row.
     *
     * @param inputsEmbeds {@code [1, tokens, channels]}
     * @param out          {@code [1, tokens, channels]}, the encoder's last hidden state
     */
    public void forward(Backend backend, Taps taps, Tensor inputsEmbeds, Tensor out, Workspace workspace) {
        forward(backend, taps, Cancellation.NONE, inputsEmbeds, out, workspace);
    }

    /** {@link #forward(Backend, Taps, Tensor, Tensor, Workspace)}, checking {@code cancellation} before each layer. */
    public void forward(Backend backend, Taps taps, Cancellation cancellation, Tensor inputsEmbeds, Tensor out,
            Workspace workspace) {
        int tokens = inputsEmbeds.shape().dim(1);
        if (tokens > maxTokens()) {
            throw new IllegalArgumentException("encoder input of " + tokens + " tokens exceeds the "
                    + maxTokens() + " learned positions");
        }
        backend.add(out, inputsEmbeds, embedPositions.narrow(TextConfig.POSITION_OFFSET, tokens));
        layernormEmbedding.forward(backend, out, out);
        BartEncoderLayer.EncoderBuffers buffers = workspace.buffers(tokens);
        for (BartEncoderLayer layer : layers) {
            cancellation.throwIfCancelled();
            layer.forward(backend, out, buffers);
        }
        taps.tap("encoder_last_hidden_state", out);
    }

    /** Encoder scratch sized once; {@link #buffers} hands out views for one input length. */
    public final class Workspace {
        private final Scratch scratch;
        private final int maxTokens;

        private Workspace(Scratch scratch, int maxTokens) {
            this.scratch = scratch;
            this.maxTokens = maxTokens;
        }

        /** The longest input this workspace holds. */
        public int maxTokens() {
            return maxTokens;
        }

        /** A buffer for the encoder's input, {@code [1, tokens, channels]}. */
        public Tensor input(int tokens) {
            return scratch.slice(tokens(tokens) * (4L * channels + ffn), 1, tokens, channels);
        }

        /**
         * A temporary {@code [1, tokens, channels]} disjoint from {@link #input} and {@link #output} of at least
         * {@code tokens} tokens, overwritten by the next {@link #forward} (where the prompt embeddings wait before
         * being concatenated).
         */
        public Tensor temporary(int tokens) {
            return scratch.slice(0, 1, (int) tokens(tokens), channels);
        }

        /** A buffer for the encoder's output, {@code [1, tokens, channels]}. */
        public Tensor output(int tokens) {
            return scratch.slice(tokens(tokens) * (5L * channels + ffn), 1, tokens, channels);
        }

        private long tokens(int tokens) {
            if (tokens > maxTokens) {
                throw new IllegalArgumentException("encoder input of " + tokens + " tokens exceeds the workspace ("
                        + maxTokens + ")");
            }
            return tokens;
        }

        BartEncoderLayer.EncoderBuffers buffers(int tokens) {
            long block = (long) tokens * channels;
            return new BartEncoderLayer.EncoderBuffers(
                    scratch.slice(0, 1, tokens, channels),
                    scratch.slice(block, 1, tokens, channels),
                    scratch.slice(2 * block, 1, tokens, channels),
                    scratch.slice(3 * block, 1, tokens, channels),
                    scratch.slice(4 * block, 1, tokens, ffn));
        }
    }
}
