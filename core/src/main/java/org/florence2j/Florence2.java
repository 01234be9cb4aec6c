package org.florence2j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.Libc;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.TextConfig;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.generate.TokenSink;
import org.florence2j.image.ImageLoader;
import org.florence2j.image.ImageProcessor;
import org.florence2j.image.PreprocessorConfig;
import org.florence2j.image.RgbImage;
import org.florence2j.model.Cancellation;
import org.florence2j.model.Florence2Model;
import org.florence2j.model.Session;
import org.florence2j.model.Taps;
import org.florence2j.task.BoxesOrPolygonsResult;
import org.florence2j.task.BoxesResult;
import org.florence2j.task.OcrResult;
import org.florence2j.task.ParseType;
import org.florence2j.task.PolygonsResult;
import org.florence2j.task.PostProcessor;
import org.florence2j.task.ScoredTokens;
import org.florence2j.task.TaskPrompts;
import org.florence2j.task.TaskResult;
import org.florence2j.task.TextResult;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.florence2j.tokenizer.BartTokenizer;

/**
 * A loaded Florence-2 model: the public entry point of florence2j.
 *
 * <pre>{@code
 * try (Florence2 model = Florence2.load(Path.of("Florence-2-base"))) {
 *     Florence2Result result = model.run(Task.CAPTION, Path.of("cat.jpg"));
 *     if (result instanceof Caption caption) {
 *         System.out.println(caption.text());
 *     }
 * }
 * }</pre>
 *
 * <p>The folder may hold {@code model.safetensors}, a sharded safetensors index, or the official
 * {@code pytorch_model.bin}, in the remote-code or the transformers-native layout; it also needs the tokenizer
 * and preprocessor files that come with every Florence-2 checkpoint.
 *
 * <p>Thread safety: one model may be shared by any number of threads. Image decoding, tokenizing and
 * post-processing run concurrently on the callers' threads; the engine runs one request at a time, since each of its
 * ops already uses every core, on its device's engine thread ({@code florence2j-engine-cpu}), which also loaded the
 * model and serves every model on that device in the process: oneDNN's OpenMP runtime keeps worker threads per
 * calling thread, and more of them than cores made every op wait for its workers to wake (up to 1.3× the time per
 * request). A {@link TokenListener} is therefore called on that thread, and must not use a model. Use
 * {@link #runBatch} to put several images through the engine together, or
 * {@link Florence2Options#maxCoalescedImages} to let the engine batch the calls that wait for it at the same time. A
 * call stops early when its thread is interrupted or its {@link RunOptions#timeout} passes ({@link #runBatch}), and
 * is refused at once past {@link Florence2Options#maxConcurrentCalls} calls in progress.
 *
 * <p>Memory: besides its weights, a model keeps its working buffers sized for the largest request it has run
 * (images in a batch, beams, new tokens, prompt length) until {@link #close}, so one large batch raises resident
 * memory for good; a process that must stay small serves large batches from a model of their own. The CPU backend
 * also keeps the oneDNN primitives of the shapes it has run, the 512 most recently used, and a packed weight layout
 * per convolution geometry (batch size and image size).
 *
 * <p>Batches: each image of a batch is encoded at its own prompt length, so no row attends to another row's
 * padding, and a row's output equals running it alone (the reference pads a batch's prompts and attends to the
 * padding, so its batched outputs can differ from its single ones).
 */
public final class Florence2 implements AutoCloseable {
    private final Path folder;
    private final Florence2Options options;
    private final LoadedCheckpoint checkpoint;
    private final Backend backend;
    private final Florence2Model model;
    private final BartTokenizer tokenizer;
    private final ImageProcessor processor;
    private final ImageLoader loader;
    private final ImageSizeLimits imageLimits;
    private final EngineThread engine;
    private final Object closing = new Object(); // serialises close() calls
    private final AtomicInteger callsInProgress = new AtomicInteger(); // runBatch calls admitted and not returned
    private final List<CoalescedCall> waiting = new ArrayList<>(); // guarded by itself; calls not yet claimed
    private Session session; // engine thread only; grown when a request needs more room
    private Function<Session.Limits, Session> sessions; // engine thread only; how sessions are made
    // Engine thread only: images a batch of coalesced calls may hold, lowered below a batch that ran out of device
    // memory (runTogether).
    private int coalescingLimit;
    private boolean closed; // engine thread only

    private Florence2(Path folder, Florence2Options options, LoadedCheckpoint checkpoint, EngineThread engine,
            Backend backend, Florence2Model model, BartTokenizer tokenizer, ImageProcessor processor) {
        this.folder = folder;
        this.options = options;
        this.checkpoint = checkpoint;
        this.engine = engine;
        this.backend = backend;
        this.model = model;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.loader = new ImageLoader(options.maxImagePixels());
        this.imageLimits = new ImageSizeLimits(model);
        this.sessions = model::newSession;
        this.coalescingLimit = options.maxCoalescedImages();
    }

    /** Loads the model folder {@code folder} on the CPU in F32. */
    public static Florence2 load(Path folder) {
        return load(folder, Florence2Options.defaults());
    }

    /**
     * Loads the model folder {@code folder}. The load runs to its end even when the calling thread is interrupted,
     * and the interrupt stays in the thread's status.
     *
     * @throws org.florence2j.checkpoint.CheckpointException when the folder or a file in it is missing, corrupt,
     *                                                       or does not fit the config
     * @throws org.florence2j.bindings.NativeLibraryException when the device's native library cannot be loaded
     * @throws org.florence2j.bindings.NativeCallException    when the device reports an error, or does not exist
     *                                                       (a {@code CudaException} for {@code cuda:N})
     * @throws IllegalStateException                          when called from a token listener
     */
    public static Florence2 load(Path folder, Florence2Options options) {
        String owner = "Florence2 model " + folder;
        EngineThread.requireOtherThread(owner); // the load's engine work would wait for the listener waiting for it
        // File channels close when their thread is interrupted (ClosedByInterruptException), which would report a
        // sound model folder as unreadable: the files are read on a thread of the load's own, which nothing
        // interrupts, and join() waits for it through the caller's interrupts, which it keeps.
        CompletableFuture<Florence2> loading = CompletableFuture.supplyAsync(() -> loadFiles(folder, options, owner),
                work -> Thread.ofPlatform().name("florence2j-load").daemon().start(work));
        try {
            return loading.join();
        } catch (CompletionException e) {
            // The error's own trace is the load thread's: the caller's frames go with it.
            e.getCause().addSuppressed(new LoadCalledHere(folder));
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw e;
        }
    }

    /** Where a failed {@link #load} was called from, in its error's suppressed exceptions. */
    private static final class LoadCalledHere extends Exception {
        LoadCalledHere(Path folder) {
            super("Florence2.load(" + folder + ") called here");
        }
    }

    private static Florence2 loadFiles(Path folder, Florence2Options options, String owner) {
        // The folder, its config and its weights first: what is not a model folder is refused as one, not for
        // lacking a tokenizer file.
        LoadedCheckpoint checkpoint = Checkpoints.open(folder);
        EngineThread engine = null;
        try {
            BartTokenizer tokenizer = BartTokenizer.load(folder);
            requireEmbeddingFor(tokenizer, checkpoint.config().text());
            ImageProcessor processor = ImageProcessor.load(folder);
            engine = EngineThread.of(options.device(), owner);
            OpenedEngine opened = engine.call(() -> openEngine(checkpoint, options, processor));
            return new Florence2(folder, options, checkpoint, engine, opened.backend(), opened.model(), tokenizer,
                    processor);
        } catch (RuntimeException | Error e) {
            if (engine != null) {
                engine.close();
            }
            checkpoint.close();
            throw e;
        }
    }

    /**
     * Refuses a tokenizer with ids the model has no embedding row for, which a prompt would otherwise hit as if
     * its text were at fault; a vocabulary larger than the tokenizer's is fine (the native checkpoints pad it).
     */
    private static void requireEmbeddingFor(BartTokenizer tokenizer, TextConfig text) {
        if (tokenizer.vocabSize() > text.vocabSize()) {
            int largest = tokenizer.vocabSize() - 1;
            throw new CheckpointException(tokenizer.file(), null, -1, "token '" + tokenizer.tokenOf(largest)
                    + "' has id " + largest + ", outside config.json's text_config.vocab_size " + text.vocabSize()
                    + ": the model has no embedding for it");
        }
    }

    private record OpenedEngine(Backend backend, Florence2Model model) {}

    /**
     * Opens the backend and loads the weights into it (on the engine thread), then refuses a processor whose images
     * the model cannot run.
     */
    private static OpenedEngine openEngine(LoadedCheckpoint checkpoint, Florence2Options options,
            ImageProcessor processor) {
        Backend backend = Backends.open(options.device(), options.threads(), options.dtype());
        Florence2Model model = null;
        try {
            model = Florence2Model.load(checkpoint.checkpoint(), checkpoint.config(), backend,
                    options.bf16Decoder() ? DType.BF16 : DType.F32);
            new ImageSizeLimits(model).checkProcessor(processor.config(),
                    checkpoint.folder().resolve(ImageProcessor.CONFIG_FILE));
            return new OpenedEngine(backend, model);
        } catch (RuntimeException | Error e) {
            if (model != null) {
                model.close();
            }
            backend.close();
            throw e;
        }
    }

    /**
     * What the model's working buffers hold room for ({@code null} before its first request): the largest batch it
     * has run, and so on. For tests of coalescing and of the buffers' size, otherwise seen only in timings and memory.
     */
    Session.Limits keptLimits() {
        return engine.call(() -> session == null ? null : session.limits());
    }

    /**
     * Makes this model's sessions from now on with {@code wrap} applied to how it makes them now. For tests that
     * fail a session's allocation as a GPU out of device memory fails it.
     */
    void wrapSessions(UnaryOperator<Function<Session.Limits, Session>> wrap) {
        engine.call(() -> {
            sessions = wrap.apply(sessions);
            return null;
        });
    }

    /** The model's configuration. */
    public Florence2Config config() {
        return checkpoint.config();
    }

    /** The model's tokenizer. */
    public BartTokenizer tokenizer() {
        return tokenizer;
    }

    /** The model's image processor. */
    public ImageProcessor processor() {
        return processor;
    }

    /** The folder the model was loaded from. */
    public Path folder() {
        return folder;
    }

    /** The options the model was loaded with. */
    public Florence2Options options() {
        return options;
    }

    /** Runs a task that takes no text on an image file. */
    public Florence2Result run(Task task, Path image) {
        return run(new Florence2Request(ImageSource.of(image), task, null), RunOptions.defaults());
    }

    /** Runs a task on an image file, with the task's text input ({@code null} for tasks that take none). */
    public Florence2Result run(Task task, Path image, String text) {
        return run(new Florence2Request(ImageSource.of(image), task, text), RunOptions.defaults());
    }

    /** Runs a task on any image source. */
    public Florence2Result run(Task task, ImageSource image, String text) {
        return run(new Florence2Request(image, task, text), RunOptions.defaults());
    }

    /** Runs one request with per-call options. */
    public Florence2Result run(Florence2Request request, RunOptions runOptions) {
        return runBatch(Collections.singletonList(request), runOptions).get(0); // which refuses a null request
    }

    /** Runs several images (each with its own task and text) through the engine together. */
    public List<Florence2Result> runBatch(List<Florence2Request> requests) {
        return runBatch(requests, RunOptions.defaults());
    }

    /**
     * Runs several images through the engine together; results are in request order.
     *
     * <p>A call stops early, with a {@link RequestCancelledException}, when its thread is interrupted, and with a
     * {@link RequestTimeoutException} when its {@link RunOptions#timeout} passes: at once while the request waits for
     * the engine behind other requests, at the decoder's next progress report while its image is decoded, else at the
     * engine's next check (before each of the vision tower's stages and blocks, or once before it on a GPU that
     * replays it as a graph, each encoder layer and every decoder step); a request that ends before that check
     * returns its results as usual. A call the engine runs in one batch with
     * other calls ({@link Florence2Options#maxCoalescedImages}) returns once the engine has copied its pixels (and
     * handed its listener any token in flight), and the batch goes on for the others. The model stays usable, and an
     * interrupt stays in the thread's status.
     *
     * @throws InvalidInputException     when an image cannot be read, a task and its text do not fit, the
     *                                   options are inconsistent (a listener with beam search), or an image's output
     *                                   has not ended when it reaches the decoder's learned positions and
     *                                   {@link RunOptions#maxNewTokens} allows more (the whole call fails, as the
     *                                   reference's batched {@code generate()} does)
     * @throws RequestCancelledException when the calling thread was interrupted, or the timeout passed
     *                                   ({@link RequestTimeoutException})
     * @throws RequestRejectedException  when the model already has {@link Florence2Options#maxConcurrentCalls}
     *                                   calls in progress
     * @throws IllegalStateException     when the model was closed before the call, or before the engine took it
     *                                   up ({@link #close})
     * @throws IllegalArgumentException  when {@code requests}, one of them, or {@code runOptions} is null
     */
    public List<Florence2Result> runBatch(List<Florence2Request> requests, RunOptions runOptions) {
        requirePresent(requests, runOptions);
        RequestControl control = new RequestControl(runOptions.timeout());
        engine.requireOpen(); // before decoding images that a closed model would not run
        admit();
        try {
            return runAdmitted(requests, runOptions, control);
        } finally {
            callsInProgress.decrementAndGet();
        }
    }

    /** Refuses a missing argument by name, as the API records do, rather than with a NullPointerException. */
    private static void requirePresent(List<Florence2Request> requests, RunOptions runOptions) {
        if (requests == null || runOptions == null) {
            throw new IllegalArgumentException("Florence2.runBatch: the " + (requests == null ? "requests" : "run"
                    + " options") + " are required");
        }
        for (int i = 0; i < requests.size(); i++) {
            if (requests.get(i) == null) {
                throw new IllegalArgumentException("Florence2.runBatch: request " + i + " is null");
            }
        }
    }

    /**
     * Counts a call in, or refuses it when {@link Florence2Options#maxConcurrentCalls} are in progress; a refused
     * call never touches the count, so a burst of refusals cannot refuse a call that fits.
     */
    private void admit() {
        int limit = options.maxConcurrentCalls();
        int inProgress;
        do {
            inProgress = callsInProgress.get();
            if (inProgress >= limit) {
                throw new RequestRejectedException("Florence2 model " + folder + " refused a call: " + limit
                        + (limit == 1 ? " call is" : " calls are") + " already in progress (maxConcurrentCalls)");
            }
        } while (!callsInProgress.compareAndSet(inProgress, inProgress + 1));
    }

    private List<Florence2Result> runAdmitted(List<Florence2Request> requests, RunOptions runOptions,
            RequestControl control) {
        if (requests.isEmpty()) {
            throw new InvalidInputException("runBatch needs at least one request");
        }
        GenerationOptions generation = generationOptions(runOptions);
        if (runOptions.listener() != null && !generation.greedy()) {
            throw new InvalidInputException("a token listener needs greedy search (numBeams 1), got "
                    + generation.numBeams() + " beams");
        }
        long start = System.nanoTime();
        List<String> prompts = new ArrayList<>(requests.size());
        List<int[]> inputIds = new ArrayList<>(requests.size());
        for (Florence2Request request : requests) {
            String prompt = prompt(request); // a text the task refuses is refused before any image is decoded
            prompts.add(prompt);
            inputIds.add(tokenizer.encode(prompt));
        }
        // A batch too large to run is refused before its images are decoded where the processor fixes their size
        // (Florence-2's does), else before they are preprocessed: 400 images preprocessed to 768 × 768 held 2.8 GB of
        // pixels before the session refused them, and 400 decoded photos of 12 megapixels would hold 14 GB.
        Optional<PreprocessorConfig.Size> fixedSize = processor.config().fixedOutputSize();
        fixedSize.ifPresent(size -> Session.requireFits(model,
                sessionLimits(inputIds, size.height(), size.width(), generation)));
        List<Prepared> prepared = new ArrayList<>(requests.size());
        List<RgbImage> images = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            // Decoding an 8000 × 8000 photo takes one to two seconds: the request's stop is checked as it goes.
            RgbImage image = requests.get(i).image().decode(loader, control::throwIfCallerStopped);
            control.throwIfCallerStopped();
            images.add(image);
            prepared.add(new Prepared(requests.get(i), image.width(), image.height(), prompts.get(i),
                    inputIds.get(i)));
        }
        if (fixedSize.isEmpty()) {
            int[] size = processor.outputSize(images.getFirst().height(), images.getFirst().width());
            Session.requireFits(model, sessionLimits(inputIds, size[0], size[1], generation));
        }
        // The pixel values are freed as soon as the session has encoded them (generate closes the arena), before
        // decoding, when the process holds the most memory. Shared: the engine thread reads and closes them.
        Arena pixels = Arena.ofShared();
        try {
            ImageProcessor.Processed processed = processor.preprocess(images, pixels);
            control.throwIfCallerStopped();
            // Past preprocessing only the images' sizes are used: a decoded photo (36 MB for 12 megapixels) is not
            // kept while the request waits for the engine and runs.
            images.clear();
            if (runOptions.taps() != Taps.NONE) {
                for (int i = 0; i < prepared.size(); i++) {
                    runOptions.taps().tap(prepared.size() == 1 ? "resized_uint8_hwc" : "resized_uint8_hwc." + i,
                            processed.resized().get(i).toTensor(pixels));
                }
            }
            double preprocessMs = millisSince(start);
            long generateStart = System.nanoTime();
            GenerationResult[] results = generate(processed, pixels, prepared, generation, runOptions, control);
            double generateMs = millisSince(generateStart);
            List<Florence2Result> out = new ArrayList<>(results.length);
            for (int i = 0; i < results.length; i++) {
                long postStart = System.nanoTime();
                Prepared request = prepared.get(i);
                Map<String, Double> timings = new LinkedHashMap<>();
                timings.put("preprocess", preprocessMs);
                timings.put("generate", generateMs);
                out.add(finish(request, results[i], timings, postStart));
            }
            return out;
        } finally {
            if (pixels.scope().isAlive()) {
                pixels.close();
            }
        }
    }

    /** A request's prompt and ids, and its decoded image's size (where boxes are mapped back to). */
    private record Prepared(Florence2Request request, int width, int height, String prompt, int[] inputIds) {}

    /** The text the tokenizer gets: the task's prompt for its text, or the caller's own prompt as it is. */
    private static String prompt(Florence2Request request) {
        return request.task() == null ? request.text() : TaskPrompts.build(request.task(), request.text());
    }

    private GenerationOptions generationOptions(RunOptions runOptions) {
        GenerationOptions generation = GenerationOptions.fromConfig(config().text(), runOptions.maxNewTokens());
        if (runOptions.numBeams() != null) {
            generation = generation.withNumBeams(runOptions.numBeams());
        }
        // Compared by coalescing (CoalescedCall.canShareBatchWith): calls that stop otherwise never share a batch.
        // Greedy search has no hypotheses to stop early, so its calls keep the config's mode and share batches.
        return runOptions.earlyStopping() == null || generation.greedy() ? generation
                : generation.withEarlyStopping(runOptions.earlyStopping());
    }

    /**
     * Encodes and decodes {@code processed}, closing {@code pixels} (which owns it) once it is encoded, or, in a
     * batch of coalesced calls, once it is copied into the batch's.
     */
    private GenerationResult[] generate(ImageProcessor.Processed processed, Arena pixels, List<Prepared> prepared,
            GenerationOptions generation, RunOptions runOptions, RequestControl control) {
        Shape imageShape = processed.pixelValues().shape();
        List<int[]> inputIds = prepared.stream().map(Prepared::inputIds).toList();
        Tensor pixelValues = processed.pixelValues(); // not processed: its resized images are not kept while it runs
        if (options.maxCoalescedImages() > 1 && runOptions.taps() == Taps.NONE) {
            control.throwIfCallerStopped(); // as EngineThread.call: a call stopped by now is not handed over
            CoalescedCall call = new CoalescedCall(pixelValues, pixels, inputIds, generation, runOptions.listener(),
                    control);
            // Listed before it is handed over, so that a batch formed before its own turn can take it.
            synchronized (waiting) {
                waiting.add(call);
            }
            try {
                engine.submit(() -> runWaiting(call));
            } catch (RuntimeException | Error e) {
                // A batch may have claimed the call meanwhile: then the engine owns it and will answer it.
                if (call.control().abandon()) {
                    synchronized (waiting) {
                        waiting.remove(call);
                    }
                    throw e;
                }
            }
            return call.await(engine);
        }
        Session.Limits needed = sessionLimits(inputIds, imageShape.dim(2), imageShape.dim(3), generation);
        return engine.call(() -> encodeAndDecode(needed, pixelValues, pixels, inputIds, generation,
                runOptions.taps(), sinkFor(runOptions.listener()), control), control);
    }

    /** What the session hands a call's tokens to: its listener, with each token's text; none without one. */
    private TokenSink sinkFor(TokenListener listener) {
        return listener == null ? null : (row, id) -> listener.onToken(row, id, tokenizer.piece(id));
    }

    /**
     * Engine thread: runs a session for {@code needed} on {@code pixelValues} and {@code inputIds}, closing
     * {@code pixels} (which owns the pixel values) once they are encoded, when the process holds the most memory.
     */
    private GenerationResult[] encodeAndDecode(Session.Limits needed, Tensor pixelValues, Arena pixels,
            List<int[]> inputIds, GenerationOptions generation, Taps taps, TokenSink sink, Cancellation cancellation) {
        if (closed) {
            throw new IllegalStateException("Florence2 model " + folder + " used after close()");
        }
        Session current = sessionFor(needed);
        current.setTaps(taps);
        current.setTokenSink(sink);
        current.setCancellation(cancellation);
        try {
            Session.Encoded encoded = current.encode(pixelValues, inputIds, generation);
            pixels.close();
            return current.decode(encoded);
        } finally {
            current.setTaps(Taps.NONE);
            current.setTokenSink(null);
            current.setCancellation(null);
        }
    }

    /**
     * Engine thread: runs {@code head}, unless its caller gave it up or a batch formed earlier ran it, in one batch
     * with the calls waiting beside it that can share it ({@link #claimBatch}). A call in a batch of several has its
     * pixels copied into the batch's and is released at once (its caller may then stop and leave); the batch stops
     * early only once every call in it has stopped. Never throws: every claimed call gets its results or the failure.
     */
    private void runWaiting(CoalescedCall head) {
        List<CoalescedCall> batch = new ArrayList<>();
        try {
            claimBatch(head, batch);
            if (batch.isEmpty()) {
                return;
            }
            if (batch.size() == 1) {
                head.finish(runAlone(head));
            } else {
                runTogether(batch);
            }
        } catch (Throwable e) { // a listener's checked exception too: a call left unanswered would wait for ever
            if (batch.isEmpty()) {
                head.fail(e); // before the head was claimed: only its caller is waiting for this work
            }
            failAll(batch, e);
        }
    }

    /**
     * Hands {@code failure} to every call in {@code batch} that has no outcome yet: a call stopped by its caller
     * reports its own stop, not the batch's end or another call's; any other failure is reported as it is.
     */
    private static void failAll(List<CoalescedCall> batch, Throwable failure) {
        boolean stop = failure instanceof RequestCancelledException;
        batch.forEach(call -> call.fail(stop && call.control().cancelled() ? call.control().stopped() : failure));
    }

    private GenerationResult[] runAlone(CoalescedCall call) {
        Shape shape = call.pixelValues().shape();
        Session.Limits needed = sessionLimits(call.inputIds(), shape.dim(2), shape.dim(3), call.generation());
        return encodeAndDecode(needed, call.pixelValues(), call.pixels(), call.inputIds(), call.generation(),
                Taps.NONE, sinkFor(call.listener()), call.control());
    }

    /**
     * One batch of several calls: their pixels copied into one tensor, which frees theirs and releases them; each
     * call finished with its rows' results. A batch that runs out of device memory before its images are encoded (no
     * call has been handed a token) runs each call alone instead ({@link #runEachAlone}), and later batches hold at
     * most one image fewer than it did.
     */
    private void runTogether(List<CoalescedCall> batch) {
        List<int[]> inputIds = new ArrayList<>();
        batch.forEach(call -> inputIds.addAll(call.inputIds()));
        Shape one = batch.getFirst().pixelValues().shape();
        Session.Limits needed = sessionLimits(inputIds, one.dim(2), one.dim(3), batch.getFirst().generation());
        Arena batchPixels = Arena.ofShared();
        try {
            Tensor pixelValues = Tensor.allocateHost(DType.F32, one.withDim(0, inputIds.size()), batchPixels);
            long offset = 0;
            for (CoalescedCall call : batch) {
                MemorySegment from = call.pixelValues().memory();
                MemorySegment.copy(from, 0, pixelValues.memory(), offset, from.byteSize());
                offset += from.byteSize();
                call.pixels().close();
                call.release();
            }
            int[] firstImages = new int[batch.size()];
            for (int i = 1; i < batch.size(); i++) {
                firstImages[i] = firstImages[i - 1] + batch.get(i - 1).images();
            }
            boolean listened = batch.stream().anyMatch(call -> call.listener() != null);
            IntFunction<String> pieces = tokenizer::piece; // made once: the sink runs for every row and token
            TokenSink sink = !listened ? null : (image, id) -> {
                int call = batch.size() - 1;
                while (firstImages[call] > image) {
                    call--;
                }
                batch.get(call).deliver(image - firstImages[call], id, pieces);
            };
            GenerationResult[] results;
            try {
                results = encodeAndDecode(needed, pixelValues, batchPixels, inputIds, batch.getFirst().generation(),
                        Taps.NONE, sink, CoalescedCall.everyCallSettled(batch));
            } catch (CudaException e) {
                if (!e.isOutOfMemory() || !batchPixels.scope().isAlive()) {
                    throw e;
                }
                // Its session or its vision tower's buffers did not fit the device, which claimBatch cannot see.
                coalescingLimit = Math.max(1, inputIds.size() - 1);
                runEachAlone(batch, pixelValues);
                return;
            }
            int from = 0;
            for (CoalescedCall call : batch) {
                call.finish(Arrays.copyOfRange(results, from, from + call.images()));
                from += call.images();
            }
        } finally {
            if (batchPixels.scope().isAlive()) {
                batchPixels.close();
            }
        }
    }

    /**
     * Runs each call of {@code batch} alone, in order, on a copy of its images' rows of {@code pixelValues} (the
     * batch's, where the calls' own pixels were copied), finishing or failing it before the next starts. A call its
     * caller has stopped by its turn gets its stop without running; one stopped later, or whose listener fails,
     * stops at its run's next check.
     */
    private void runEachAlone(List<CoalescedCall> batch, Tensor pixelValues) {
        Shape shape = pixelValues.shape();
        long imageBytes = pixelValues.byteSize() / shape.dim(0);
        IntFunction<String> pieces = tokenizer::piece;
        long offset = 0;
        for (CoalescedCall call : batch) {
            long bytes = imageBytes * call.images();
            long from = offset;
            offset += bytes;
            if (call.control().cancelled()) { // before its session and buffers are sized for nothing
                call.fail(call.control().stopped());
                continue;
            }
            Arena own = Arena.ofShared();
            try {
                Tensor pixels = Tensor.allocateHost(DType.F32, shape.withDim(0, call.images()), own);
                MemorySegment.copy(pixelValues.memory(), from, pixels.memory(), 0, bytes);
                Session.Limits needed = sessionLimits(call.inputIds(), shape.dim(2), shape.dim(3), call.generation());
                call.finish(encodeAndDecode(needed, pixels, own, call.inputIds(), call.generation(), Taps.NONE,
                        (image, id) -> call.deliver(image, id, pieces), CoalescedCall.everyCallSettled(List.of(call))));
            } catch (Throwable e) { // this call's failure is its own: the calls after it still run
                failAll(List.of(call), e);
            } finally {
                if (own.scope().isAlive()) {
                    own.close();
                }
            }
        }
    }

    /**
     * Engine thread: takes {@code head} and, in their order of arrival, the waiting calls that can share its batch
     * ({@link CoalescedCall#canShareBatchWith}) while the batch stays within
     * {@link Florence2Options#maxCoalescedImages} images (fewer once a batch ran out of device memory:
     * {@link #runTogether}) and a session that passes {@link Session#requireFits} (the host's memory: on a GPU, not
     * the device's), none beside a call whose new tokens could run past the decoder's positions (its failure would
     * be theirs); each claimed call is started (its caller can no longer give it up before it runs) and added to
     * {@code batch} at once, so that a failure part way leaves none unanswered. Nothing is added when {@code head}
     * was given up or already ran in an earlier batch. A call whose caller has stopped is neither started nor dropped
     * here: its caller gives it up, and its own turn drops it from the waiting list.
     */
    private void claimBatch(CoalescedCall head, List<CoalescedCall> batch) {
        synchronized (waiting) {
            if (!waiting.remove(head) || !head.control().start()) {
                return;
            }
            batch.add(head);
            if (head.control().cancelled()) {
                return; // runs alone and stops at its first check, without other calls' rows
            }
            if (Session.reachableNewTokens(model.text(), head.generation().maxNewTokens())
                    < head.generation().maxNewTokens()) {
                // It may fail for running past the decoder's positions, which would fail the calls beside it too.
                return;
            }
            List<int[]> inputIds = new ArrayList<>(head.inputIds());
            Shape shape = head.pixelValues().shape();
            for (Iterator<CoalescedCall> it = waiting.iterator(); it.hasNext(); ) {
                CoalescedCall other = it.next();
                // One whose caller has stopped is left for its caller to give up, not started to ride the batch.
                if (other.control().cancelled() || !head.canShareBatchWith(other)
                        || inputIds.size() + other.images() > coalescingLimit) {
                    continue;
                }
                List<int[]> together = new ArrayList<>(inputIds);
                together.addAll(other.inputIds());
                if (!fits(together, shape.dim(2), shape.dim(3), head.generation())) {
                    continue;
                }
                it.remove();
                if (other.control().start()) {
                    batch.add(other);
                    inputIds = together;
                }
            }
        }
    }

    /** Whether a session for {@code inputIds} with images of {@code height × width} fits the model's memory. */
    private boolean fits(List<int[]> inputIds, int height, int width, GenerationOptions generation) {
        try {
            Session.requireFits(model, sessionLimits(inputIds, height, width, generation));
            return true;
        } catch (InvalidInputException e) {
            return false;
        }
    }

    /**
     * The session requests of {@code inputIds} need with images of {@code height × width}: room for as many new
     * tokens as they can reach ({@link Session#reachableNewTokens}).
     *
     * @throws InvalidInputException when the image size or the prompts do not fit the model
     */
    private Session.Limits sessionLimits(List<int[]> inputIds, int height, int width,
            GenerationOptions generation) {
        imageLimits.checkImage(height, width);
        int imageTokens = model.projector().tokenCount(model.davit().outputShape(1, height, width).dim(1));
        int longestPrompt = inputIds.stream().mapToInt(ids -> ids.length).max().orElseThrow();
        Session.requireEncoderPositions(model.text(), imageTokens, longestPrompt);
        return new Session.Limits(inputIds.size(), imageTokens + longestPrompt,
                Session.reachableNewTokens(model.text(), generation.maxNewTokens()), generation.numBeams(), height,
                width);
    }

    /** The cached session if it is big enough, else a new one sized for at least {@code needed}. */
    private Session sessionFor(Session.Limits needed) {
        if (session != null && fits(session.limits(), needed)) {
            return session;
        }
        Session.Limits grown = needed;
        if (session != null) {
            Session.Limits old = session.limits();
            grown = new Session.Limits(Math.max(old.maxImages(), needed.maxImages()),
                    Math.max(old.maxEncoderTokens(), needed.maxEncoderTokens()),
                    Math.max(old.maxNewTokens(), needed.maxNewTokens()),
                    Math.max(old.maxBeams(), needed.maxBeams()),
                    Math.max(old.imageHeight(), needed.imageHeight()), Math.max(old.imageWidth(), needed.imageWidth()));
            session.close();
            session = null;
        }
        session = grownOrNeeded(sessions, grown, needed);
        return session;
    }

    /**
     * What {@code sessions} makes for {@code grown} (the kept session's limits with this request's), or, when that
     * is refused as too large or runs out of device memory, for {@code needed} alone: a request that fits on its own
     * must not fail for the sizes of an earlier one. A session's size is checked against host memory only
     * ({@link Session}), so on a GPU the allocation itself is the check.
     */
    static <S> S grownOrNeeded(Function<Session.Limits, S> sessions, Session.Limits grown, Session.Limits needed) {
        try {
            return sessions.apply(grown);
        } catch (InvalidInputException | CudaException e) {
            if (grown.equals(needed) || e instanceof CudaException cuda && !cuda.isOutOfMemory()) {
                throw e;
            }
            return sessions.apply(needed);
        }
    }

    private static boolean fits(Session.Limits have, Session.Limits needed) {
        return have.maxImages() >= needed.maxImages() && have.maxEncoderTokens() >= needed.maxEncoderTokens()
                && have.maxNewTokens() >= needed.maxNewTokens() && have.maxBeams() >= needed.maxBeams();
    }

    private Florence2Result finish(Prepared prepared, GenerationResult result, Map<String, Double> timings,
            long postStart) {
        Task task = prepared.request().task();
        // A prompt of the caller's own is answered as the reference's post_process_generation answers a task it
        // does not know: pure text, under the key it was given (here the prompt).
        ParseType type = task == null ? ParseType.PURE_TEXT : task.parseType();
        String key = task == null ? prepared.request().text() : task.token();
        int width = prepared.width();
        int height = prepared.height();
        int[] sequence = result.sequence();
        String text = tokenizer.decode(sequence, false);
        TaskResult parsed = PostProcessor.parse(type, text, null, width, height);
        List<Double> scores = List.of();
        if (type == ParseType.DESCRIPTION_WITH_BBOXES || type == ParseType.BBOXES
                || type == ParseType.PHRASE_GROUNDING) {
            ScoredTokens tokens = ScoredTokens.of(sequence, result.transitionScores(), tokenizer::piece);
            TaskResult scored = PostProcessor.parse(type, tokens.text(), tokens, width, height);
            if (scored instanceof BoxesResult boxes && boxes.scores() != null) {
                scores = boxes.scores();
            }
        }
        timings.put("postprocess", millisSince(postStart));
        Generation generation = new Generation(prepared.request().image().name(), width, height, task,
                prepared.prompt(), prepared.inputIds(), sequence, text, result.transitionScores(),
                result.sequenceScore(), parsed.toReferenceJson(key), Map.copyOf(timings));
        return switch (parsed) {
            case TextResult t -> new Caption(t.text(), generation);
            case BoxesResult b -> new Detections(b.boxes(), b.labels(), scores, List.of(), List.of(), generation);
            case BoxesOrPolygonsResult b -> new Detections(b.boxes(), b.boxLabels(), List.of(), b.polygons(),
                    b.polygonLabels(), generation);
            case PolygonsResult p -> new Polygons(p.polygons(), p.labels(), generation);
            case OcrResult o -> new OcrRegions(o.quadBoxes(), o.labels(), generation);
        };
    }

    private static double millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    /**
     * Frees the session, the weights' device copies, the backend and the mapped files, after the requests already
     * handed to the engine, and hands the C library's freed heap memory back to the system (glibc's
     * {@code malloc_trim}), so that the process shrinks back. Idempotent.
     */
    @Override
    public void close() {
        // Before the lock: a listener closing the model would otherwise wait for a close() waiting for it.
        engine.requireOtherThread();
        synchronized (closing) {
            if (engine.isClosed()) {
                return;
            }
            try {
                engine.call(() -> {
                    closed = true;
                    if (session != null) {
                        session.close();
                        session = null;
                    }
                    model.close();
                    backend.close();
                    return null;
                });
            } finally {
                engine.close();
                checkpoint.close();
                // Base F32, three loads: 1.2-1.4 GB resident after close without it, ~0.45 GB with it (~60 ms).
                Libc.trimHeap();
            }
        }
    }
}
