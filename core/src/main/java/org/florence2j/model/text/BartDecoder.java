package org.florence2j.model.text;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.TextConfig;
import org.florence2j.model.Taps;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The BART decoder with its language-model head, mirroring the reference's {@code Florence2Decoder} plus
 * {@code Florence2LanguageForConditionalGeneration}'s {@code lm_head(x) + final_logits_bias}:
 * {@code x = layernorm_embedding(embed_tokens(ids) + embed_positions[position + 2 …])}, the layers, then logits.
 *
 * <p>{@code embed_tokens} is {@code shared} (scale 1: Florence-2 sets {@code scale_embedding=false}, and a config
 * asking for scaling is refused at load). {@code lm_head} is {@code language_model.lm_head.weight} when stored,
 * else tied to {@code shared}; {@code final_logits_bias} absent means zero.
 *
 * <p>Taps: {@code decoder_logits} ({@code [rows, tokens, vocabulary]}, every step).
 */
public final class BartDecoder {
    private static final ValueLayout.OfInt I32_LE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Tensor shared; // [vocabulary, channels]
    private final Tensor embedPositions; // [maxPositions + 2, channels]
    private final LayerNorm layernormEmbedding;
    private final List<BartDecoderLayer> layers;
    private final Tensor lmHead; // [vocabulary, channels]
    private final Tensor finalLogitsBias; // [vocabulary] or null
    private final int channels;
    private final int ffn;
    private final int vocabulary;

    private BartDecoder(Tensor shared, Tensor embedPositions, LayerNorm layernormEmbedding,
            List<BartDecoderLayer> layers, Tensor lmHead, Tensor finalLogitsBias, int ffn) {
        this.shared = shared;
        this.embedPositions = embedPositions;
        this.layernormEmbedding = layernormEmbedding;
        this.layers = layers;
        this.lmHead = lmHead;
        this.finalLogitsBias = finalLogitsBias;
        this.channels = shared.shape().dim(1);
        this.ffn = ffn;
        this.vocabulary = shared.shape().dim(0);
    }

    /**
     * Loads the decoder and the head from the {@code language_model} view {@code w}: {@code model.shared},
     * {@code model.decoder.*}, {@code lm_head.weight} (optional), {@code final_logits_bias} (optional).
     */
    public static BartDecoder load(Weights w, TextConfig c, Backend backend, Arena arena) {
        if (c.scaleEmbedding()) {
            throw new IllegalArgumentException("text_config.scale_embedding=true is not supported"
                    + " (Florence-2 checkpoints use false)");
        }
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
        // The LM head is the one weight every step reads whole: uploaded for linear (packed) when shared is it.
        // Otherwise shared is only an embedding table, which every backend reads in its stored 16-bit dtype: an
        // F32 copy of a bf16 checkpoint's table would be 157 MB (base) for a few rows read per step.
        DType tableType = sharedHost.dtype() == DType.BF16 || sharedHost.dtype() == DType.F16 ? sharedHost.dtype()
                : DType.F32;
        Tensor shared = tied ? backend.uploadLinearWeight(sharedHost, DType.F32, arena)
                : backend.upload(sharedHost, tableType, arena);
        Tensor positions = Linear.upload(decoder.at("embed_positions"), "weight", backend, arena,
                c.maxPositionEmbeddings() + BartEncoder.POSITION_OFFSET, channels);
        List<BartDecoderLayer> layers = new ArrayList<>();
        for (int i = 0; i < c.decoderLayers(); i++) {
            layers.add(BartDecoderLayer.load(decoder.at("layers").at(i), c, backend, arena));
        }
        Tensor lmHead = tied ? shared : backend.uploadLinearWeight(storedHead, DType.F32, arena);
        Tensor bias = null;
        if (w.contains("final_logits_bias")) {
            bias = Linear.upload(w, "final_logits_bias", backend, arena, 1, vocabulary)
                    .reshape(new Shape(vocabulary));
        }
        return new BartDecoder(shared, positions, LayerNorm.load(decoder, "layernorm_embedding", channels, backend,
                arena), List.copyOf(layers), lmHead, bias, c.decoderFfnDim());
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

    /** The longest decoder sequence the learned positions cover. */
    public int maxPositions() {
        return embedPositions.shape().dim(0) - BartEncoder.POSITION_OFFSET;
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
        int tokens = encoderStates.shape().dim(1);
        Tensor keys = cache.crossKeyStaging(tokens);
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).crossKeyValue(backend, encoderStates, keys, cache.crossValueRows(l, image, tokens));
            backend.transposeKeys(cache.crossKeysTOf(l, image), keys);
        }
    }

    /** Scratch for up to {@code maxRows} rows of {@code maxTokens} tokens per step, owned by {@code arena}. */
    public Workspace newWorkspace(Backend backend, Arena arena, int maxRows, int maxTokens) {
        long cells = (long) maxRows * maxTokens;
        long elements = cells * (6L * channels + ffn + vocabulary) + (long) maxTokens * channels;
        MemorySegment ids = arena.allocate((cells + maxTokens) * Integer.BYTES, 64);
        return new Workspace(Scratch.allocate(backend, arena, elements), ids, maxRows, maxTokens);
    }

    /**
     * Runs one decoder step: the ids already written in {@code s} sit at positions
     * {@code position … position + tokens - 1}; fills {@code s.logits()}.
     */
    public void forward(Backend backend, Taps taps, StepBuffers s, KvCache cache, int position) {
        int tokens = s.tokenIds().shape().dim(1);
        if (position + tokens > Math.min(cache.capacity(), maxPositions())) {
            throw new IllegalArgumentException("decoder position " + (position + tokens) + " exceeds the cache ("
                    + cache.capacity() + ") or the learned positions (" + maxPositions() + ")");
        }
        MemorySegment positionIds = s.positionIds().memory();
        for (int t = 0; t < tokens; t++) {
            positionIds.setAtIndex(I32_LE, t, position + t + BartEncoder.POSITION_OFFSET);
        }
        backend.embedding(s.x(), shared, s.tokenIds());
        backend.embedding(s.positions(), embedPositions, s.positionIds());
        backend.add(s.x(), s.x(), s.positionsFlat());
        layernormEmbedding.forward(backend, s.x(), s.x());
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(backend, s.x(), position, l, cache, s);
        }
        backend.linear(s.logits(), s.x(), lmHead, finalLogitsBias);
        taps.tap("decoder_logits", s.logits());
    }

    /**
     * Views of one request's step.
     *
     * @param tokenIds      host I32 {@code [rows, tokens]}, written by the caller before each step
     * @param positionIds   host I32 {@code [1, tokens]}
     * @param x             {@code [rows, tokens, channels]}, the hidden state
     * @param positions     {@code [1, tokens, channels]}, this step's position embeddings
     * @param positionsFlat the same memory as {@code [tokens, channels]}
     * @param q             {@code [rows, tokens, channels]}
     * @param k             {@code [rows, tokens, channels]}
     * @param v             {@code [rows, tokens, channels]}
     * @param heads         {@code [rows, tokens, channels]}
     * @param projected     {@code [rows, tokens, channels]}
     * @param ffn           {@code [rows, tokens, ffn]}
     * @param logits        {@code [rows, tokens, vocabulary]}
     * @param qGroups       {@code q}'s rows of each cross group
     * @param headsGroups   {@code heads}' rows of each cross group
     */
    public record StepBuffers(Tensor tokenIds, Tensor positionIds, Tensor x, Tensor positions, Tensor positionsFlat,
            Tensor q, Tensor k, Tensor v, Tensor heads, Tensor projected, Tensor ffn, Tensor logits,
            Tensor[] qGroups, Tensor[] headsGroups) {
        /** Sets the id fed at {@code row}, token {@code t}. */
        public void setToken(int row, int t, int id) {
            tokenIds.memory().setAtIndex(I32_LE, (long) row * tokenIds.shape().dim(1) + t, id);
        }
    }

    /** Decoder scratch sized once; {@link #prepare} hands out the views of one request. */
    public final class Workspace {
        private final Scratch scratch;
        private final MemorySegment ids; // host I32: [maxRows · maxTokens] token ids, then [maxTokens] positions
        private final int maxRows;
        private final int maxTokens;

        private Workspace(Scratch scratch, MemorySegment ids, int maxRows, int maxTokens) {
            this.scratch = scratch;
            this.ids = ids;
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
            Tensor positions = scratch.slice(6 * block, 1, tokens, channels);
            Tensor[] qGroups = new Tensor[groups.size()];
            Tensor[] headsGroups = new Tensor[groups.size()];
            for (int g = 0; g < groups.size(); g++) {
                CrossGroup group = groups.get(g);
                qGroups[g] = q.narrow(group.firstImage() * rowsPerImage, group.images() * rowsPerImage);
                headsGroups[g] = heads.narrow(group.firstImage() * rowsPerImage, group.images() * rowsPerImage);
            }
            long positionsEnd = 6 * block + (long) tokens * channels;
            Tensor tokenIds = Tensor.wrap(DType.I32, new Shape(rows, tokens), Device.cpu(),
                    ids.asSlice(0, cell * Integer.BYTES));
            Tensor positionIds = Tensor.wrap(DType.I32, new Shape(1, tokens), Device.cpu(),
                    ids.asSlice((long) maxRows * maxTokens * Integer.BYTES, (long) tokens * Integer.BYTES));
            return new StepBuffers(tokenIds, positionIds,
                    scratch.slice(2 * block, rows, tokens, channels),
                    positions, positions.reshape(new Shape(tokens, channels)),
                    q,
                    scratch.slice(3 * block, rows, tokens, channels),
                    scratch.slice(4 * block, rows, tokens, channels),
                    heads,
                    scratch.slice(5 * block, rows, tokens, channels),
                    scratch.slice(positionsEnd, rows, tokens, ffn),
                    scratch.slice(positionsEnd + cell * ffn, rows, tokens, vocabulary),
                    qGroups, headsGroups);
        }
    }
}
