package org.florence2j.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.backend.StepGraph;
import org.florence2j.backend.StepParameters;
import org.florence2j.generate.Candidates;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.generate.Generator;
import org.florence2j.generate.StepModel;
import org.florence2j.generate.TokenSink;
import org.florence2j.model.text.BartDecoder;
import org.florence2j.model.text.BartEncoder;
import org.florence2j.model.text.BartModel;
import org.florence2j.model.text.CrossGroup;
import org.florence2j.model.text.KvCache;
import org.florence2j.model.text.ScratchBlock;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A reusable inference session: every buffer a request needs (encoder scratch, self and cross KV caches, decoder
 * step activations, logits, search state) is allocated once at creation, for {@link Limits}, in the session's own
 * arena, and reused by every request; a generated token allocates nothing. Not thread-safe: one request at a time.
 * The text side's buffers are one {@link ScratchBlock}, which the vision tower's scratch overlays (as much of it as
 * fits): the two never run at once, so a session's peak memory is the larger of them, not their sum.
 *
 * <p>A request is a batch of images (each with its own prompt). Each image is encoded on its own, at its own
 * length, and its cross-attention K/V is computed once and shared by its beams; the decoder runs all
 * {@code images × beams} rows as one batch. Unlike the reference, which pads a batch's prompts to one length and
 * attends to the padding, no row here ever sees padding, so a row's ids are exactly those of running it alone.
 *
 * <p>Each decode step goes through the backend's {@link StepGraph}: on CUDA it is captured once per variant (which
 * self-attention buffer is live, with or without a beam reorder) and request shape, then replayed per token, its
 * per-token values sent in the decoder's {@link StepParameters}; on the CPU the ops simply run. The
 * {@code decoder_logits} tap sees each step's logits once the step is issued, outside the graph. The vision tower
 * goes through a step graph of its own, one variant per batch and image size ({@link VisionPass}), unless the taps
 * read inside it ({@link Taps#readsVisionTower}).
 */
public final class Session implements AutoCloseable {
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What a session is sized for.
     *
     * @param maxImages        images per request
     * @param maxEncoderTokens image tokens + prompt tokens per image
     * @param maxNewTokens     generated tokens per sequence; a session keeps room for no more than the decoder's
     *                         learned positions ({@link Session#reachableNewTokens})
     * @param maxBeams         beams per image
     * @param imageHeight      the height of the images the session expects, or 0 when not known
     * @param imageWidth       their width, or 0; with the height, the session's text buffers are made large enough
     *                         to hold the vision tower's scratch for {@code maxImages} such images (they overlay
     *                         it), which then takes no memory of its own
     */
    public record Limits(int maxImages, int maxEncoderTokens, int maxNewTokens, int maxBeams, int imageHeight,
            int imageWidth) {
        public Limits {
            if (maxImages < 1 || maxEncoderTokens < 1 || maxNewTokens < 1 || maxBeams < 1) {
                throw new IllegalArgumentException("session limits must be positive: " + maxImages + " images, "
                        + maxEncoderTokens + " encoder tokens, " + maxNewTokens + " new tokens, " + maxBeams
                        + " beams");
            }
            if (imageHeight < 0 || imageWidth < 0 || (imageHeight == 0) != (imageWidth == 0)) {
                throw new IllegalArgumentException("session image size must be positive, or 0 x 0 when not known: "
                        + imageHeight + " x " + imageWidth);
            }
        }

        /** Limits for images of a size not known in advance. */
        public Limits(int maxImages, int maxEncoderTokens, int maxNewTokens, int maxBeams) {
            this(maxImages, maxEncoderTokens, maxNewTokens, maxBeams, 0, 0);
        }
    }

    private final Backend backend;
    private final Florence2Model model; // null for a language-only session
    private final BartModel text;
    private final Limits limits;
    private final Arena arena = Arena.ofShared();
    // The encoder's and decoder's activations and the KV cache, which the vision tower's scratch overlays: the tower
    // runs before a request's first text op, and every text buffer is written by a request before it is read. As
    // large as the tower's scratch when the limits give the image size (a <CAPTION>'s text needs less).
    private final ScratchBlock textScratch;
    private final BartEncoder.Workspace encoderWorkspace;
    private final BartDecoder.Workspace decoderWorkspace;
    private final KvCache cache;
    private final Generator generator;
    // Backend.logSoftmaxTopK's results, packed so that one download fetches them: [rows · k] scores, then as many
    // log-probs and token ids, then [rows] log-sum-exps, 4 bytes each (Selection), for up to maxRows and
    // maxK = 2 · maxBeams.
    private final Tensor selected; // I32 [maxRows · (3 · maxK + 1)]
    private final MemorySegment hostSelected; // the same bytes on the host
    private final MemorySegment hostBans; // host I32 [maxRows · Candidates.banWidth(maxLength)]
    private final MemorySegment hostOffsets; // host F32 [maxRows]
    private final Decoding decoding = new Decoding();
    private final StepGraph stepGraph;
    private StepShape stepShape; // what the step graph's captures were made for; null before the first request
    private final VisionPass vision; // null in a language-only session
    // Bumped whenever the encoder outputs are replaced (an encoder run) or consumed (a decode): a pending Encoded
    // holds the value it was made at, and is still decodable while they agree.
    private long encoderStateVersion;
    private Taps taps = Taps.NONE;
    private TokenSink tokenSink = TokenSink.NONE;
    private Cancellation cancellation = Cancellation.NONE;

    /**
     * A language-only session (requests start from encoder inputs or image features); buffers for {@code limits},
     * with room for no more new tokens than the decoder has positions ({@link #reachableNewTokens}).
     */
    public Session(Backend backend, BartModel text, Limits limits) {
        this(backend, null, text, limits);
    }

    /** A session of the whole model, as {@link Florence2Model#newSession} makes it. */
    Session(Florence2Model model, Limits limits) {
        this(model.backend(), model, model.text(), limits);
    }

    private Session(Backend backend, Florence2Model model, BartModel text, Limits asked) {
        Limits limits = reachable(text, asked);
        this.backend = backend;
        this.model = model;
        this.text = text;
        this.limits = limits;
        BartDecoder decoder = text.decoder();
        int maxRows = limits.maxImages() * limits.maxBeams();
        int maxLength = limits.maxNewTokens() + 1;
        try {
            long scratchElements = requireMemory(backend, model, text, limits);
            this.textScratch = ScratchBlock.allocate(backend, arena, scratchElements);
            this.encoderWorkspace = text.encoder().newWorkspace(textScratch, limits.maxEncoderTokens());
            this.decoderWorkspace = decoder.newWorkspace(backend, arena, textScratch, maxRows, 1);
            this.cache = KvCache.allocate(textScratch, decoder.layerCount(), decoder.channels(), decoder.heads(),
                    maxRows, maxLength, limits.maxImages(), limits.maxEncoderTokens());
            this.generator = new Generator(limits.maxImages(), limits.maxBeams(), maxLength, decoder.vocabulary());
            int selectedCount = maxRows * (3 * 2 * limits.maxBeams() + 1);
            this.selected = backend.allocate(DType.I32, new Shape(selectedCount), arena);
            // Hundreds of MB for thousands of beams: allocated as the scratch is.
            this.hostSelected = Tensor.allocateHostMemory((long) selectedCount * Integer.BYTES, arena);
            this.hostBans = Tensor.allocateHostMemory((long) maxRows * Candidates.banWidth(maxLength) * Integer.BYTES,
                    arena);
            this.hostOffsets = arena.allocate((long) maxRows * Float.BYTES, 64);
            // Last: nothing after them can fail and leave them open.
            this.stepGraph = backend.newStepGraph();
            this.vision = model == null ? null : new VisionPass(backend, model.davit(), textScratch.memory());
        } catch (OutOfMemoryError e) {
            // Too large for the memory left (the Java heap's search arrays, say): the gigabytes of scratch allocated
            // before the failure are freed, and the request is refused as one too large to run.
            arena.close();
            throw tooLarge(limits, "more memory than is left (" + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Refuses, before anything is allocated, a request whose session for {@code limits} could not fit on
     * {@code model}'s backend (see {@link #requireMemory(Limits, long, long, long, long)}), so that a caller can
     * check a request before preparing its images (400 images preprocessed to 768 × 768 take 2.8 GB).
     *
     * @throws InvalidInputException naming what the session would need
     */
    public static void requireFits(Florence2Model model, Limits limits) {
        requireMemory(model.backend(), model, model.text(), reachable(model.text(), limits));
    }

    /**
     * The new tokens a request of {@code maxNewTokens} can reach on {@code text}'s decoder, which a session keeps
     * room for ({@link GenerationOptions#reachableNewTokens}).
     */
    public static int reachableNewTokens(BartModel text, int maxNewTokens) {
        return GenerationOptions.reachableNewTokens(maxNewTokens, text.decoder().maxPositions());
    }

    /** {@code limits} with no more new tokens than {@link #reachableNewTokens}. */
    private static Limits reachable(BartModel text, Limits limits) {
        int newTokens = reachableNewTokens(text, limits.maxNewTokens());
        return newTokens == limits.maxNewTokens() ? limits : new Limits(limits.maxImages(), limits.maxEncoderTokens(),
                newTokens, limits.maxBeams(), limits.imageHeight(), limits.imageWidth());
    }

    /**
     * {@link #requireMemory(Limits, long, long, long, long)} for a session of {@code limits}; returns the F32 elements
     * of its scratch block (text buffers and the vision tower's scratch overlaid).
     */
    private static long requireMemory(Backend backend, Florence2Model model, BartModel text, Limits limits) {
        BartDecoder decoder = text.decoder();
        int maxRows = limits.maxImages() * limits.maxBeams();
        int maxLength = limits.maxNewTokens() + 1;
        long textElements = text.encoder().scratchElements(limits.maxEncoderTokens())
                + decoder.scratchElements(maxRows, 1) + KvCache.scratchElements(decoder.layerCount(),
                        decoder.channels(), maxRows, maxLength, limits.maxImages(), limits.maxEncoderTokens());
        long visionElements = model == null || limits.imageHeight() == 0 ? 0 : model.davit().scratchElements(
                backend, limits.maxImages(), limits.imageHeight(), limits.imageWidth());
        long scratchElements = Math.max(textElements, visionElements);
        long visionBuffers = visionElements == 0 ? 0 : VisionPass.bufferElements(model.davit(),
                limits.maxImages(), limits.imageHeight(), limits.imageWidth());
        // On a GPU the scratch is the device's, which the host's memory says nothing about.
        requireMemory(limits, backend.device().isHost() ? 4 * (scratchElements + visionBuffers) : 0,
                Generator.heapBytes(limits.maxImages(), limits.maxBeams(), maxLength),
                Runtime.getRuntime().maxMemory(), machineMemory());
        return scratchElements;
    }

    /** The memory of this machine, or of its container where that is smaller, in bytes. */
    static long machineMemory() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
    }

    /**
     * Refuses a session that could not fit, before any of it is allocated: a search array longer than Java allows,
     * search arrays beyond the JVM's heap limit {@code heapLimit}, or host scratch and heap together beyond
     * {@code machine} bytes (the machine's memory, or the container's limit where there is one). Otherwise a request
     * with thousands of beams spent seconds filling gigabytes before it failed, or had the process killed.
     */
    static void requireMemory(Limits limits, long scratchBytes, long heapBytes, long heapLimit, long machine) {
        if (heapBytes < 0) {
            throw tooLarge(limits, "search arrays longer than Java's arrays", null);
        }
        if (heapBytes > heapLimit) {
            throw tooLarge(limits, gigabytes(heapBytes) + " of Java heap, more than the JVM's limit of "
                    + gigabytes(heapLimit), null);
        }
        if (scratchBytes + heapBytes > machine) {
            throw tooLarge(limits, gigabytes(scratchBytes + heapBytes) + " of memory, more than this machine's "
                    + gigabytes(machine), null);
        }
    }

    /** A request refused because a session for {@code limits} needs {@code need}; {@code cause} may be null. */
    private static InvalidInputException tooLarge(Limits limits, String need, Throwable cause) {
        return new InvalidInputException("a session for " + limits.maxImages() + " images × " + limits.maxBeams()
                + " beams × " + limits.maxNewTokens() + " new tokens and " + limits.maxEncoderTokens()
                + " encoder tokens needs " + need + ": ask for fewer images, beams or new tokens at once, or a shorter"
                + " prompt", cause);
    }

    private static String gigabytes(long bytes) {
        return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
    }

    /** Observes named intermediates of the following requests ({@link Taps#NONE} to stop). */
    public void setTaps(Taps taps) {
        this.taps = taps;
    }

    /** Receives each token greedy search chooses in the following requests ({@code null} to stop). */
    public void setTokenSink(TokenSink sink) {
        this.tokenSink = sink == null ? TokenSink.NONE : sink;
    }

    /**
     * Checks {@code check} before each of the vision tower's stages and blocks (once, before the pass, where it is a
     * replayed graph: {@link VisionPass}), each encoder layer and every decoder step of the following requests
     * ({@code null} to stop); what it throws ends the request, and the session stays usable for the next one.
     */
    public void setCancellation(Cancellation check) {
        this.cancellation = check == null ? Cancellation.NONE : check;
    }

    /** What the session holds room for: its limits, new tokens at most {@link #reachableNewTokens}. */
    public Limits limits() {
        return limits;
    }

    /**
     * Generates from images and prompts: the whole model, as the reference's
     * {@code Florence2ForConditionalGeneration.generate(input_ids, pixel_values)}.
     *
     * <p>The vision tower's activation buffers are kept from one request to the next (made again, larger, only when
     * a request has more or bigger images): allocating and first touching those hundreds of megabytes cost as much as
     * a fifth of the tower's compute on every request. Everything after the tower uses the session's buffers.
     *
     * @param pixelValues host or device F32 {@code [images, 3, height, width]}, normalised
     * @param inputIds    one prompt per image, token ids (as the processor makes them, {@code <s> … </s>})
     * @throws IllegalStateException when this session was made without the vision tower
     * @throws InvalidInputException as {@link #decode}
     */
    public GenerationResult[] generate(Tensor pixelValues, List<int[]> inputIds, GenerationOptions options) {
        return decode(encode(pixelValues, inputIds, options));
    }

    /**
     * The first half of {@link #generate}: runs the vision tower, the projector and the encoder on each image and
     * prompt and keeps what decoding needs (the encoder outputs' cross-attention K/V) in this session. The pixel
     * values are not read after it returns, so a caller may free them before {@link #decode}, when the session
     * holds the most memory.
     *
     * @return the request to pass to {@link #decode}, before any other request is encoded
     * @throws IllegalStateException when this session was made without the vision tower
     */
    public Encoded encode(Tensor pixelValues, List<int[]> inputIds, GenerationOptions options) {
        if (model == null) {
            throw new IllegalStateException("a language-only session cannot take pixel values");
        }
        Shape pixels = pixelValues.shape();
        if (pixels.rank() != 4 || pixels.dim(1) != 3) {
            throw new InvalidInputException("pixel_values must be [images, 3, height, width], got " + pixels);
        }
        checkRequest(pixels.dim(0), options);
        int[] lengths;
        // The request's projector temporaries and features die once the encoder has read the features: freed here,
        // before decoding.
        try (Arena request = Arena.ofShared()) {
            ForwardContext ctx = new ForwardContext(backend, request, taps, cancellation);
            Tensor davitOut = vision.run(pixelValues, request, taps, cancellation);
            Tensor features = ctx.allocate(model.projector().outputShape(pixels.dim(0), davitOut.shape().dim(1)));
            model.projector().forward(ctx, davitOut, model.davit().outputSize(pixels.dim(2)),
                    model.davit().outputSize(pixels.dim(3)), features);
            lengths = encodeFeatures(features, inputIds, options);
        }
        return new Encoded(encoderStateVersion, lengths, options);
    }

    /**
     * The second half of {@link #generate}: generates from the request {@link #encode} just encoded.
     *
     * @throws IllegalStateException when another request was encoded (or decoded) since
     * @throws InvalidInputException when an image's output has not ended by the decoder's last learned position
     *                               and the request's new tokens allow more ({@link #reachableNewTokens})
     */
    public GenerationResult[] decode(Encoded request) {
        if (request.sequence != encoderStateVersion) {
            throw new IllegalStateException("this session encoded or decoded another request since this one was"
                    + " encoded: its encoder outputs are gone");
        }
        return decode(request.lengths, request.options);
    }

    /** A request {@link #encode} has run the encoder on, waiting for {@link #decode}. */
    public static final class Encoded {
        private final long sequence; // the session's encoderStateVersion when it was encoded
        private final int[] lengths; // the encoder length of each image
        private final GenerationOptions options;

        private Encoded(long sequence, int[] lengths, GenerationOptions options) {
            this.sequence = sequence;
            this.lengths = lengths;
            this.options = options;
        }
    }

    /**
     * Generates from the encoder inputs (image features ++ prompt embeddings) of each image.
     *
     * @param inputsEmbeds one host or device F32 tensor {@code [1, tokens, channels]} per image
     */
    public GenerationResult[] generateFromEmbeds(List<Tensor> inputsEmbeds, GenerationOptions options) {
        checkRequest(inputsEmbeds.size(), options);
        int[] lengths = new int[inputsEmbeds.size()];
        for (int i = 0; i < lengths.length; i++) {
            Tensor embeds = inputsEmbeds.get(i);
            lengths[i] = embeds.shape().dim(1);
            checkEncoderLength(i, lengths[i]);
            Tensor input = encoderWorkspace.input(lengths[i]);
            if (embeds.device().equals(backend.device())) {
                backend.copy(input, embeds);
            } else {
                // Host embeddings on a GPU backend: stage them on the device (a request-time allocation, never
                // one per token).
                try (Arena staging = Arena.ofConfined()) {
                    backend.copy(input, backend.upload(embeds, DType.F32, staging));
                }
            }
            encode(i, input);
        }
        return decode(lengths, options);
    }

    /**
     * Generates from projected image features and prompt ids: image {@code i}'s encoder input is
     * {@code imageFeatures[i] ++ shared[inputIds[i]]} (the reference's {@code _merge_input_ids_with_image_features}).
     *
     * @param imageFeatures {@code [images, imageTokens, channels]} on this session's backend
     * @param inputIds      one prompt per image, token ids
     */
    public GenerationResult[] generateFromFeatures(Tensor imageFeatures, List<int[]> inputIds,
            GenerationOptions options) {
        return decode(encodeFeatures(imageFeatures, inputIds, options), options);
    }

    /**
     * Encodes {@code imageFeatures[i] ++ shared[inputIds[i]]} of each image (see {@link #generateFromFeatures}) and
     * computes its cross-attention K/V; returns the encoder lengths {@link #decode} takes.
     */
    private int[] encodeFeatures(Tensor imageFeatures, List<int[]> inputIds, GenerationOptions options) {
        int images = imageFeatures.shape().dim(0);
        if (inputIds.size() != images) {
            throw new InvalidInputException(images + " images but " + inputIds.size() + " prompts");
        }
        checkRequest(images, options);
        int imageTokens = imageFeatures.shape().dim(1);
        int channels = imageFeatures.shape().dim(2);
        int[] lengths = new int[images];
        try (Arena ids = Arena.ofConfined()) {
            for (int i = 0; i < images; i++) {
                int[] prompt = inputIds.get(i);
                if (prompt.length == 0) {
                    throw new InvalidInputException("prompt " + i + " has no tokens");
                }
                lengths[i] = imageTokens + prompt.length;
                checkEncoderLength(i, lengths[i]);
                for (int id : prompt) {
                    if (id < 0 || id >= text.decoder().vocabulary()) {
                        throw new InvalidInputException("prompt " + i + " holds token id " + id
                                + " outside the vocabulary of " + text.decoder().vocabulary());
                    }
                }
                Tensor input = encoderWorkspace.input(lengths[i]);
                Tensor prompts = encoderWorkspace.temporary(prompt.length);
                text.decoder().embedTokens(backend, prompts,
                        Tensor.ofInts(new Shape(1, prompt.length), ids, prompt));
                backend.concatTokens(input, imageFeatures.narrow(i, 1), prompts);
                encode(i, input);
            }
        }
        return lengths;
    }

    private void encode(int image, Tensor input) {
        encoderStateVersion++;
        int tokens = input.shape().dim(1);
        taps.tap("encoder_inputs_embeds", input);
        Tensor states = encoderWorkspace.output(tokens);
        text.encoder().forward(backend, taps, cancellation, input, states, encoderWorkspace);
        text.decoder().computeCrossKeyValues(backend, states, image, cache);
    }

    private GenerationResult[] decode(int[] lengths, GenerationOptions options) {
        encoderStateVersion++;
        List<CrossGroup> groups = new ArrayList<>();
        int first = 0;
        for (int i = 1; i <= lengths.length; i++) {
            if (i == lengths.length || lengths[i] != lengths[first]) {
                groups.add(new CrossGroup(first, i - first, lengths[first]));
                first = i;
            }
        }
        int rows = lengths.length * options.numBeams();
        cache.prepare(rows, groups);
        decoding.prepare(decoderWorkspace.prepare(rows, 1, groups, options.numBeams()), rows);
        StepShape shape = new StepShape(rows, options.numBeams(), groups);
        if (!shape.equals(stepShape)) {
            stepGraph.reset();
            stepShape = shape;
        }
        return generator.generate(decoding, lengths.length, options, tokenSink);
    }

    private void checkRequest(int images, GenerationOptions options) {
        if (images < 1 || images > limits.maxImages()) {
            throw new InvalidInputException(images + " images in one request; this session holds 1 to "
                    + limits.maxImages());
        }
        int newTokens = reachableNewTokens(text, options.maxNewTokens());
        if (options.numBeams() > limits.maxBeams() || newTokens > limits.maxNewTokens()) {
            throw new InvalidInputException(options.numBeams() + " beams × " + newTokens
                    + " new tokens exceed this session's " + limits.maxBeams() + " × " + limits.maxNewTokens());
        }
    }

    /**
     * Refuses a prompt that, after the image's tokens, would run past the encoder's learned positions. Callers that
     * size a session from the request check this first, so that an absurdly long prompt is refused before anything
     * is sized from it.
     *
     * @throws InvalidInputException naming the prompt's and the image's token counts and the encoder's positions
     */
    public static void requireEncoderPositions(BartModel text, int imageTokens, int promptTokens) {
        int positions = text.encoder().maxTokens();
        if ((long) imageTokens + promptTokens > positions) {
            throw new InvalidInputException("a prompt of " + promptTokens + " tokens after the image's " + imageTokens
                    + " exceeds the encoder's " + positions + " learned positions: at most "
                    + Math.max(0, positions - imageTokens) + " prompt tokens fit");
        }
    }

    private void checkEncoderLength(int image, int tokens) {
        if (tokens > limits.maxEncoderTokens() || tokens > text.encoder().maxTokens()) {
            throw new InvalidInputException("image " + image + ": " + tokens + " encoder tokens exceed this"
                    + " session's " + limits.maxEncoderTokens() + " (model: " + text.encoder().maxTokens() + ")");
        }
    }

    /**
     * What a request's step views depend on: requests of one shape issue their steps on the same tensors, so they
     * replay the same captured steps.
     */
    private record StepShape(int rows, int beams, List<CrossGroup> groups) {}

    /**
     * The decoder as a {@link StepModel} over the current request's views: each step runs the decoder, then
     * {@link Backend#logSoftmaxTopK} on its logits where they are, and downloads only the rows' candidates.
     */
    private final class Decoding implements StepModel {
        private final Runnable forward = () -> issue(false);
        private final Runnable reorderAndForward = () -> issue(true);
        private BartDecoder.StepBuffers step;
        private Tensor logits; // [rows, vocabulary], the step's logits
        private Selection selection; // views for the request's rows and the search's k; made at its first step

        void prepare(BartDecoder.StepBuffers step, int rows) {
            this.step = step;
            this.logits = step.logits().reshape(new Shape(rows, vocabulary()));
            this.selection = null;
        }

        @Override
        public int vocabulary() {
            return text.decoder().vocabulary();
        }

        @Override
        public int positions() {
            return text.decoder().maxPositions();
        }

        /**
         * Sets the step's parameters and sends them, then issues the step through the step graph: a reorder's
         * buffer swap happens here, on the host, and its copies inside the step, so a replay does both.
         */
        @Override
        public void step(int[] tokens, int[] parents, int position, Candidates candidates) {
            cancellation.throwIfCancelled();
            StepParameters parameters = step.parameters();
            boolean reorder = parents != null && cache.moves(parents, position);
            if (reorder) {
                parameters.setParents(parents, cache.swap(parents, position));
            }
            for (int r = 0; r < tokens.length; r++) {
                step.setToken(r, 0, tokens[r]);
            }
            text.decoder().setPosition(step, cache, position);
            parameters.upload(backend);
            stepGraph.run(2 * cache.live() + (reorder ? 1 : 0), reorder ? reorderAndForward : forward);
            taps.tap("decoder_logits", step.logits());
            int rows = candidates.rows();
            int k = candidates.k();
            if (selection == null || selection.k() != k) {
                selection = Selection.of(selected, hostSelected, hostBans, hostOffsets, rows, k,
                        candidates.banWidth());
            }
            if (candidates.banning()) {
                MemorySegment.copy(candidates.bannedTokens(), 0, hostBans, I32_LE, 0, rows * candidates.banWidth());
            }
            if (candidates.offsetting()) {
                MemorySegment.copy(candidates.scoreOffsets(), 0, hostOffsets, F32_LE, 0, rows);
            }
            backend.logSoftmaxTopK(selection.scores(), selection.tokens(), selection.logProbs(),
                    selection.logSumExp(), logits, candidates.banning() ? selection.bans() : null,
                    candidates.forcedToken(), candidates.offsetting() ? selection.offsets() : null);
            backend.download(selection.packed(), selection.hostPacked());
            MemorySegment results = selection.hostPacked().memory();
            int count = rows * k;
            MemorySegment.copy(results, F32_LE, 0, candidates.scores(), 0, count);
            MemorySegment.copy(results, F32_LE, (long) count * Float.BYTES, candidates.logProbs(), 0, count);
            MemorySegment.copy(results, I32_LE, 2L * count * Float.BYTES, candidates.tokens(), 0, count);
            MemorySegment.copy(results, F32_LE, 3L * count * Float.BYTES, candidates.logSumExp(), 0, rows);
        }

        private void issue(boolean reorder) {
            if (reorder) {
                cache.gatherFromPrevious(backend, step.parameters());
            }
            text.decoder().forwardStep(backend, step, cache);
        }
    }

    /**
     * One request's views of the selection buffers.
     *
     * @param scores     F32 {@code [rows, k]} on the backend's device, at the start of the packed results
     * @param logProbs   F32 {@code [rows, k]}, after the scores
     * @param tokens     I32 {@code [rows, k]}, after the log-probs
     * @param logSumExp  F32 {@code [rows]}, after the tokens
     * @param packed     all four as I32 {@code [rows · (3·k + 1)]}: their bytes, downloaded at once
     * @param hostPacked host I32 {@code [rows · (3·k + 1)]}, where they are downloaded
     * @param bans       host I32 {@code [rows, banWidth]}
     * @param offsets    host F32 {@code [rows]}
     * @param k          candidates per row
     */
    private record Selection(Tensor scores, Tensor logProbs, Tensor tokens, Tensor logSumExp, Tensor packed,
            Tensor hostPacked, Tensor bans, Tensor offsets, int k) {
        static Selection of(Tensor selected, MemorySegment hostSelected, MemorySegment hostBans,
                MemorySegment hostOffsets, int rows, int k, int banWidth) {
            Device device = selected.device();
            MemorySegment memory = selected.memory();
            long block = (long) rows * k * Float.BYTES;
            int packedCount = rows * (3 * k + 1);
            return new Selection(
                    Tensor.wrap(DType.F32, new Shape(rows, k), device, memory.asSlice(0, block)),
                    Tensor.wrap(DType.F32, new Shape(rows, k), device, memory.asSlice(block, block)),
                    Tensor.wrap(DType.I32, new Shape(rows, k), device, memory.asSlice(2 * block, block)),
                    Tensor.wrap(DType.F32, new Shape(rows), device, memory.asSlice(3 * block, 4L * rows)),
                    Tensor.wrap(DType.I32, new Shape(packedCount), device, memory.asSlice(0, 4L * packedCount)),
                    Tensor.wrap(DType.I32, new Shape(packedCount), Device.cpu(),
                            hostSelected.asSlice(0, 4L * packedCount)),
                    Tensor.wrap(DType.I32, new Shape(rows, banWidth), Device.cpu(),
                            hostBans.asSlice(0, 4L * rows * banWidth)),
                    Tensor.wrap(DType.F32, new Shape(rows), Device.cpu(), hostOffsets.asSlice(0, 4L * rows)),
                    k);
        }
    }

    /** Frees every buffer and captured step; the session is unusable afterwards. Idempotent. */
    @Override
    public void close() {
        stepGraph.close();
        if (vision != null) {
            vision.close();
        }
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
