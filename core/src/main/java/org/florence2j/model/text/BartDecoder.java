package org.florence2j.model.text;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepParameters;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The BART decoder with its language-model head, mirroring the reference's {@code Florence2Decoder} plus
 * {@code Florence2LanguageForConditionalGeneration}'s {@code lm_head(x) + final_logits_bias}:
 * {@code x = layernorm_embedding(embed_tokens(ids) + embed_positions[position + 2 …])}, the layers, then logits.
 *
 * <p>{@code embed_tokens} is {@code shared}, times {@code sqrt(d_model)} when {@code scale_embedding} is set (the
 * reference's {@code Florence2ScaledWordEmbedding}; Florence-2's checkpoints leave it off). The encoder's prompt
 * embeddings read {@code shared} unscaled either way: the reference looks them up with
 * {@code get_input_embeddings()}, the plain {@code shared}. {@code lm_head} is
 * {@code language_model.lm_head.weight} when stored, else tied to {@code shared}; {@code final_logits_bias} absent
 * means zero.
 *
 * <p>Taps: {@code decoder_logits} ({@code [rows, tokens, vocabulary]}, every step).
 */
public final class BartDecoder {
    private final Tensor shared; // [vocabulary, channels]
    private final Tensor decoderEmbedTokens; // [vocabulary, channels]: shared, or its scaled copy
    private final Tensor embedPositions; // [maxPositions + 2, channels]
    private final LayerNorm layernormEmbedding;
    private final List<BartDecoderLayer> layers;
    private final Tensor lmHead; // [vocabulary, channels]
    private final Tensor finalLogitsBias; // [vocabulary] or null
    private final int channels;
    private final int heads;
    private final int ffn;
    private final int vocabulary;

    private BartDecoder(Tensor shared, Tensor decoderEmbedTokens, Tensor embedPositions,
            LayerNorm layernormEmbedding, List<BartDecoderLayer> layers, Tensor lmHead, Tensor finalLogitsBias,
            int heads, int ffn) {
        this.shared = shared;
        this.decoderEmbedTokens = decoderEmbedTokens;
        this.embedPositions = embedPositions;
        this.layernormEmbedding = layernormEmbedding;
        this.layers = layers;
        this.lmHead = lmHead;
        this.finalLogitsBias = finalLogitsBias;
        this.channels = shared.shape().dim(1);
        this.heads = heads;
        this.ffn = ffn;
        this.vocabulary = shared.shape().dim(0);
    }

    /**
     * Loads the decoder and the head from the {@code language_model} view {@code w}: {@code model.shared},
     * {@code model.decoder.*}, {@code lm_head.weight} (optional), {@code final_logits_bias} (optional).
     */
    public static BartDecoder load(Weights w, TextConfig c, Backend backend, Arena arena) {
        return load(w, c, backend, arena, DType.F32);
    }

    /**
     * {@link #load} with the weights every step reads (each layer's self-attention, cross-attention query and
     * output, feed-forward, and the LM head) uploaded for {@code stepWeightType}: {@link DType#BF16} packs them in
     * bf16 on the CPU, halving what a memory-bound step streams, while everything else stays as the backend
     * computes.
     */
    public static BartDecoder load(Weights w, TextConfig c, Backend backend, Arena arena, DType stepWeightType) {
        int channels = c.dModel();
        int vocabulary = c.vocabSize();
        Weights model = w.at("model");
        Weights decoder = model.at("decoder");
        Tensor sharedHost = model.at("shared").tensor("weight", vocabulary, channels);
        Optional<Tensor> stored = w.find("lm_head.weight");
        Tensor storedHead = stored.isPresent() ? w.at("lm_head").tensor("weight", vocabulary, channels) : null;
        boolean tied = storedHead == null || storedHead.dtype() == sharedHost.dtype()
                && MemorySegment.mismatch(storedHead.memory(), 0, storedHead.byteSize(),
                        sharedHost.memory(), 0, sharedHost.byteSize()) == -1;
        if (tied && storedHead != null && storedHead.memory().isMapped()) {
            // The stored head was read only to compare it with shared: drop its file pages from resident memory
            // (157 MB for base in f32).
            storedHead.memory().unload();
        }
        // The LM head is the one weight every step reads whole: uploaded for linear (packed) when shared is it.
        // Otherwise shared is only an embedding table, which every backend reads in its stored 16-bit dtype: an
        // F32 copy of a bf16 checkpoint's table would be 157 MB (base) for a few rows read per step.
        DType tableType = sharedHost.dtype() == DType.BF16 || sharedHost.dtype() == DType.F16 ? sharedHost.dtype()
                : DType.F32;
        Tensor shared = tied ? backend.uploadLinearWeight(sharedHost, stepWeightType, arena)
                : backend.upload(sharedHost, tableType, arena);
        Tensor positions = Linear.upload(decoder.at("embed_positions"), "weight", backend, arena,
                c.maxPositionEmbeddings() + TextConfig.POSITION_OFFSET, channels);
        List<BartDecoderLayer> layers = new ArrayList<>();
        for (int i = 0; i < c.decoderLayers(); i++) {
            layers.add(BartDecoderLayer.load(decoder.at("layers").at(i), c, backend, arena, stepWeightType));
        }
        Tensor lmHead = tied ? shared : backend.uploadLinearWeight(storedHead, stepWeightType, arena);
        Tensor decoderEmbedTokens = c.scaleEmbedding()
                ? scaledTable(sharedHost, (float) Math.sqrt(channels), backend, arena) : shared;
        Tensor bias = null;
        if (w.contains("final_logits_bias")) {
            bias = Linear.upload(w, "final_logits_bias", backend, arena, 1, vocabulary)
                    .reshape(new Shape(vocabulary));
        }
        return new BartDecoder(shared, decoderEmbedTokens, positions,
                LayerNorm.load(decoder, "layernorm_embedding", channels, backend, arena), List.copyOf(layers), lmHead,
                bias, c.decoderAttentionHeads(), c.decoderFfnDim());
    }

    /**
     * {@code table × scale} in F32, a table of its own: the prompt's embeddings and a tied LM head read
     * {@code shared} unscaled. The reference multiplies the looked-up F32 rows by the scale as a float.
     */
    private static Tensor scaledTable(Tensor table, float scale, Backend backend, Arena arena) {
        Tensor scaled = backend.allocate(DType.F32, table.shape(), arena);
        try (Arena staging = Arena.ofConfined()) {
            Tensor host = Tensor.allocateHost(DType.F32, table.shape(), staging);
            for (long i = 0; i < table.elementCount(); i++) {
                host.setFloat(i, table.getFloat(i) * scale);
            }
            backend.write(scaled, host);
            backend.synchronize();
        }
        if (table.memory().isMapped()) {
            table.memory().unload(); // read once more here; the model reads its own copies
        }
        return scaled;
    }

    /** The vocabulary size: the innermost dimension of the logits. */
    public int vocabulary() {
        return vocabulary;
    }

    /** Number of decoder layers. */
    public int layerCount() {
        return layers.size();
    }

    /** Width of the hidden states ({@code d_model}). */
    public int channels() {
        return channels;
    }

    /** Attention heads of every layer ({@code decoder_attention_heads}). */
    public int heads() {
        return heads;
    }

    /** The longest decoder sequence the learned positions cover. */
    public int maxPositions() {
        return embedPositions.shape().dim(0) - TextConfig.POSITION_OFFSET;
    }

    /** {@code out [batch, tokens, channels] = shared[ids]} (the reference's unscaled input embedding). */
    public void embedTokens(Backend backend, Tensor out, Tensor ids) {
        backend.embedding(out, shared, ids);
    }

    /**
     * Computes every layer's cross-attention K/V of image {@code image} from its encoder output
     * {@code [1, tokens, channels]} into {@code cache}: once per request, shared by that image's beams.
     */
    public void computeCrossKeyValues(Backend backend, Tensor encoderStates, int image, KvCache cache) {
        Tensor staging = cache.crossStaging(encoderStates.shape().dim(1));
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).crossKeyValue(backend, encoderStates, staging, cache.crossKeysTOf(l, image),
                    cache.crossValuesOf(l, image));
        }
    }

    /** Scratch for up to {@code maxRows} rows of {@code maxTokens} tokens per step, owned by {@code arena}. */
    public Workspace newWorkspace(Backend backend, Arena arena, int maxRows, int maxTokens) {
        return newWorkspace(backend, arena, ScratchBlock.allocate(backend, arena, scratchElements(maxRows, maxTokens)),
                maxRows, maxTokens);
    }

    /**
     * Scratch for up to {@code maxRows} rows of {@code maxTokens} tokens per step: the activations taken from
     * {@code block}, the step parameters (which a captured step reads across requests) owned by {@code arena}.
     */
    public Workspace newWorkspace(Backend backend, Arena arena, ScratchBlock block, int maxRows, int maxTokens) {
        StepParameters parameters = StepParameters.allocate(backend, arena, maxRows, maxTokens, maxPositions(),
                TextConfig.POSITION_OFFSET, vocabulary);
        return new Workspace(block.take(scratchElements(maxRows, maxTokens)), parameters, maxRows, maxTokens);
    }

    /** The F32 elements {@link #newWorkspace} takes for {@code maxRows} rows of {@code maxTokens} tokens. */
    public long scratchElements(int maxRows, int maxTokens) {
        long cells = (long) maxRows * maxTokens;
        return cells * (5L * channels + ffn + vocabulary) + (long) maxTokens * channels;
    }

    /**
     * Runs one decoder step: the ids already set in {@code s} sit at positions
     * {@code position … position + tokens - 1}; fills {@code s.logits()} and taps it. ({@link #setPosition}, then
     * {@link StepParameters#upload}, then {@link #forwardStep}.)
     */
    public void forward(Backend backend, Taps taps, StepBuffers s, KvCache cache, int position) {
        setPosition(s, cache, position);
        s.parameters().upload(backend);
        forwardStep(backend, s, cache);
        taps.tap("decoder_logits", s.logits());
    }

    /**
     * Sets the position of the step's first token in {@code s.parameters()}, checked against the cache and the
     * learned positions, and records in {@code cache} that the step writes its positions
     * ({@link KvCache#recordWrites}). The parameters go to the device with the next {@link StepParameters#upload}.
     */
    public void setPosition(StepBuffers s, KvCache cache, int position) {
        int tokens = s.parameters().tokens();
        if (position < 0 || position + tokens > Math.min(cache.capacity(), maxPositions())) {
            throw new IllegalArgumentException("decoder position " + (position + tokens) + " exceeds the cache ("
                    + cache.capacity() + ") or the learned positions (" + maxPositions() + ")");
        }
        s.parameters().setPosition(position);
        cache.recordWrites(position, tokens);
    }

    /**
     * Issues one decoder step's ops for the token ids and position set and uploaded in {@code s.parameters()};
     * fills {@code s.logits()} (untapped: the caller taps it once the step is issued). Every per-token value reaches
     * the ops through the parameters, so a {@link org.florence2j.backend.StepGraph} may capture this once and replay
     * it.
     */
    public void forwardStep(Backend backend, StepBuffers s, KvCache cache) {
        StepParameters step = s.parameters();
        backend.embedding(s.x(), decoderEmbedTokens, step.tokenIds());
        backend.embedding(s.positions(), embedPositions, step.positionIds());
        backend.add(s.x(), s.x(), s.positionsFlat());
        layernormEmbedding.forward(backend, s.x(), s.x());
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(backend, s.x(), l, cache, s);
        }
        backend.linear(s.logits(), s.x(), lmHead, finalLogitsBias);
    }

    /**
     * Views of one request's step.
     *
     * @param parameters    the step's token ids, position and parents, set by the caller before each step
     * @param x             {@code [rows, tokens, channels]}, the hidden state
     * @param positions     {@code [1, tokens, channels]}, this step's position embeddings
     * @param positionsFlat the same memory as {@code [tokens, channels]}
     * @param q             {@code [rows, tokens, channels]}
     * @param k             {@code [rows, tokens, channels]}
     * @param v             {@code [rows, tokens, channels]}
     * @param heads         {@code [rows, tokens, channels]}
     * @param ffn           {@code [rows, tokens, ffn]}
     * @param logits        {@code [rows, tokens, vocabulary]}
     * @param qGroups       {@code q}'s rows of each cross group
     * @param headsGroups   {@code heads}' rows of each cross group
     */
    public record StepBuffers(StepParameters parameters, Tensor x, Tensor positions, Tensor positionsFlat,
            Tensor q, Tensor k, Tensor v, Tensor heads, Tensor ffn, Tensor logits,
            Tensor[] qGroups, Tensor[] headsGroups) {
        /** Sets the id fed at {@code row}, token {@code t} (checked against the vocabulary). */
        public void setToken(int row, int t, int id) {
            parameters.setToken(row, t, id);
        }
    }

    /** Decoder scratch sized once; {@link #prepare} hands out the views of one request. */
    public final class Workspace {
        private final Scratch scratch;
        private final StepParameters parameters;
        private final int maxRows;
        private final int maxTokens;

        private Workspace(Scratch scratch, StepParameters parameters, int maxRows, int maxTokens) {
            this.scratch = scratch;
            this.parameters = parameters;
            this.maxRows = maxRows;
            this.maxTokens = maxTokens;
        }

        /**
         * Views for {@code rows} rows fed {@code tokens} tokens per step, with cross-attention split by
         * {@code groups} ({@code rowsPerImage} decoder rows per image).
         */
        public StepBuffers prepare(int rows, int tokens, List<CrossGroup> groups, int rowsPerImage) {
            if (rows > maxRows || tokens > maxTokens) {
                throw new IllegalArgumentException("decoder step of " + rows + " rows × " + tokens
                        + " tokens exceeds the workspace (" + maxRows + " × " + maxTokens + ")");
            }
            long cell = (long) rows * tokens;
            long block = cell * channels;
            Tensor q = scratch.slice(0, rows, tokens, channels);
            Tensor heads = scratch.slice(block, rows, tokens, channels);
            Tensor positions = scratch.slice(5 * block, 1, tokens, channels);
            Tensor[] qGroups = new Tensor[groups.size()];
            Tensor[] headsGroups = new Tensor[groups.size()];
            for (int g = 0; g < groups.size(); g++) {
                CrossGroup group = groups.get(g);
                qGroups[g] = q.narrow(group.firstImage() * rowsPerImage, group.images() * rowsPerImage);
                headsGroups[g] = heads.narrow(group.firstImage() * rowsPerImage, group.images() * rowsPerImage);
            }
            long positionsEnd = 5 * block + (long) tokens * channels;
            parameters.prepare(rows, tokens);
            return new StepBuffers(parameters,
                    scratch.slice(2 * block, rows, tokens, channels),
                    positions, positions.reshape(new Shape(tokens, channels)),
                    q,
                    scratch.slice(3 * block, rows, tokens, channels),
                    scratch.slice(4 * block, rows, tokens, channels),
                    heads,
                    scratch.slice(positionsEnd, rows, tokens, ffn),
                    scratch.slice(positionsEnd + cell * ffn, rows, tokens, vocabulary),
                    qGroups, headsGroups);
        }
    }
}
