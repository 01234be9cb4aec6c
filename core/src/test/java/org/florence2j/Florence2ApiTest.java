package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.model.Session;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** The public API's contract: typed results, thread safety, streaming, batches, and its errors. */
class Florence2ApiTest {
    private static final RunOptions SHORT = RunOptions.defaults().withMaxNewTokens(12);
    private static Path golden;
    private static Florence2 model;

    @BeforeAll
    static void load() throws Exception {
        golden = Path.of(Florence2ApiTest.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        model = Florence2.load(golden.resolve("model"), Florence2Options.defaults().withThreads(1));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static Path image(String name) {
        return golden.resolve("images/" + name + ".png");
    }

    @Test
    void resultTypesFollowTheTask() {
        Path image = image("gradient_160x160");
        assertInstanceOf(Caption.class, model.run(Florence2Request.of(image, Task.CAPTION), SHORT));
        assertInstanceOf(Detections.class, model.run(Florence2Request.of(image, Task.OD), SHORT));
        assertInstanceOf(Polygons.class, model.run(
                Florence2Request.of(image, Task.REFERRING_EXPRESSION_SEGMENTATION, "the dog"), SHORT));
        assertInstanceOf(OcrRegions.class, model.run(Florence2Request.of(image, Task.OCR_WITH_REGION), SHORT));
        Florence2Result result = model.run(Florence2Request.of(image, Task.CAPTION), SHORT);
        Generation generation = result.generation();
        assertEquals(2, generation.generatedIds()[0], "sequences start with the decoder start token");
        assertEquals(generation.generatedIds().length - 1, generation.transitionScores().length);
        assertEquals(model.tokenizer().decode(generation.generatedIds(), false), generation.text());
        assertEquals(160, generation.imageWidth());
        assertTrue(generation.timingsMs().keySet().containsAll(List.of("preprocess", "generate", "postprocess")));
    }

    /** A missing argument is refused by name (it was a NullPointerException), and the model runs the next call. */
    @Test
    void missingArgumentsAreRefusedByName() {
        Florence2Request request = Florence2Request.of(image("gradient_160x160"), Task.CAPTION);
        List<Executable> calls = List.of(() -> model.run(null, SHORT), () -> model.run(request, null),
                () -> model.runBatch(null), () -> model.runBatch(Arrays.asList(request, null)));
        List<String> says = List.of("request 0 is null", "the run options are required", "the requests are required",
                "request 1 is null");
        for (int i = 0; i < calls.size(); i++) {
            var refused = assertThrows(IllegalArgumentException.class, calls.get(i));
            assertEquals("Florence2.runBatch: " + says.get(i), refused.getMessage());
        }
        assertInstanceOf(Caption.class, model.run(request, SHORT));
    }

    @Test
    void concurrentCallsEqualSingleThreadedOnes() throws Exception {
        List<Florence2Request> requests = List.of(
                Florence2Request.of(image("gradient_160x160"), Task.CAPTION),
                Florence2Request.of(image("checker_shapes_200x150"), Task.OD),
                Florence2Request.of(image("noise_173x97"), Task.CAPTION_TO_PHRASE_GROUNDING, "a red ball"),
                Florence2Request.of(image("small_37x29"), Task.OCR));
        List<int[]> alone = new ArrayList<>();
        for (Florence2Request request : requests) {
            alone.add(model.run(request, SHORT).generation().generatedIds());
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<int[]>> futures = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (Florence2Request request : requests) {
                    futures.add(pool.submit(() -> model.run(request, SHORT).generation().generatedIds()));
                }
            }
            for (int i = 0; i < futures.size(); i++) {
                assertArrayEquals(alone.get(i % requests.size()), futures.get(i).get(), "request " + i);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The engine (backend calls, listeners) runs on the CPU's engine thread whichever thread calls, for every model:
     * oneDNN's OpenMP runtime keeps worker threads per calling thread, which slowed every op once they outnumbered
     * the cores.
     */
    @Test
    void engineWorkOfEveryModelRunsOnOneThreadOfItsOwn() throws Exception {
        Set<Thread> listenerThreads = ConcurrentHashMap.newKeySet();
        Set<Thread> callers = ConcurrentHashMap.newKeySet();
        RunOptions recording = SHORT.greedy().withListener((image, id, piece) ->
                listenerThreads.add(Thread.currentThread()));
        Florence2Request request = Florence2Request.of(image("small_37x29"), Task.CAPTION);
        callers.add(Thread.currentThread());
        model.run(request, recording);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Florence2Result>> futures = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                futures.add(pool.submit(() -> {
                    callers.add(Thread.currentThread());
                    return model.run(request, recording);
                }));
            }
            for (Future<Florence2Result> future : futures) {
                future.get();
            }
            try (Florence2 second = pool.submit(() -> Florence2.load(golden.resolve("model"))).get()) {
                second.run(request, recording);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(3, callers.size());
        assertEquals(1, listenerThreads.size(), listenerThreads.toString());
        Thread engine = listenerThreads.iterator().next();
        assertFalse(callers.contains(engine), "the engine ran on a caller's thread: " + engine);
        assertEquals("florence2j-engine-cpu", engine.getName());
    }

    @Test
    void theReferenceResultCannotBeChanged() {
        Path image = image("gradient_160x160");
        for (Task task : List.of(Task.OD, Task.OCR_WITH_REGION, Task.CAPTION)) {
            Map<String, Object> reference = model.run(Florence2Request.of(image, task), SHORT).generation()
                    .referenceResult();
            assertThrows(UnsupportedOperationException.class, () -> reference.put("<OTHER>", "x"), task.token());
            if (reference.get(task.token()) instanceof Map<?, ?> answer) {
                assertThrows(UnsupportedOperationException.class, answer::clear, task.token());
                for (Object value : answer.values()) {
                    assertThrows(UnsupportedOperationException.class, ((List<?>) value)::clear, task.token());
                }
            }
        }
    }

    @Test
    void aListenerCannotUseItsOwnModelButTheModelGoesOn() {
        Florence2Request request = Florence2Request.of(image("small_37x29"), Task.CAPTION);
        var nested = assertThrows(IllegalStateException.class, () -> model.run(request,
                SHORT.greedy().withListener((image, id, piece) -> model.run(request, SHORT))));
        assertTrue(nested.getMessage().contains("engine thread"), nested.getMessage());
        var closing = assertThrows(IllegalStateException.class, () -> model.run(request,
                SHORT.greedy().withListener((image, id, piece) -> model.close())));
        assertTrue(closing.getMessage().contains("engine thread"), closing.getMessage());
        var loading = assertThrows(IllegalStateException.class, () -> model.run(request,
                SHORT.greedy().withListener((image, id, piece) -> Florence2.load(golden.resolve("model")))));
        assertTrue(loading.getMessage().contains("engine thread"), loading.getMessage());
        var thrown = new UnsupportedOperationException("the listener's own failure");
        assertEquals(thrown, assertThrows(UnsupportedOperationException.class, () -> model.run(request,
                SHORT.greedy().withListener((image, id, piece) -> {
                    throw thrown;
                }))), "a listener's exception reaches the caller as it is");
        assertInstanceOf(Caption.class, model.run(request, SHORT));
    }

    /**
     * A prompt of one's own goes to the tokenizer as it is and is answered as text under the prompt: given the very
     * sentence {@code <CAPTION>} expands to, it must generate what the task does. A prompt naming a task is that task.
     */
    @Test
    void aPromptOfOnesOwnIsSentAsItIsAndAnsweredAsText() {
        Path image = image("gradient_160x160");
        Florence2Result task = model.run(Florence2Request.of(image, Task.CAPTION), SHORT);
        String sentence = Task.CAPTION.prompt();
        Florence2Result own = model.run(Florence2Request.ofPrompt(image, sentence), SHORT);
        Caption caption = assertInstanceOf(Caption.class, own);
        assertEquals(((Caption) task).text(), caption.text());
        assertArrayEquals(task.generation().inputIds(), own.generation().inputIds());
        assertArrayEquals(task.generation().generatedIds(), own.generation().generatedIds());
        assertEquals(null, own.generation().task());
        assertEquals(sentence, own.generation().prompt());
        assertEquals(Map.of(sentence, caption.text()), own.generation().referenceResult());

        Florence2Request grounding = Florence2Request.ofPrompt(image, "<CAPTION_TO_PHRASE_GROUNDING>a red ball");
        assertEquals(new Florence2Request(ImageSource.of(image), Task.CAPTION_TO_PHRASE_GROUNDING, "a red ball"),
                grounding);
        assertInstanceOf(Detections.class, model.run(grounding, SHORT));
        assertEquals(Florence2Request.of(image, Task.OD), new Florence2Request(ImageSource.of(image), null, "<OD>"),
                "a prompt given to the constructor is read as ofPrompt reads it");
        assertThrows(InvalidInputException.class, () -> Florence2Request.ofPrompt(image, "<OD> please"));
    }

    /**
     * Past preprocessing a request keeps only its image's size: a decoded 12-megapixel photo (36 MB of RGB) is not
     * held while the request waits for the engine and decodes. Heap in use after a full collection during the first
     * token against after the request.
     */
    @Test
    void aDecodedImageIsNotHeldWhileTheRequestRuns(@TempDir Path dir) throws Exception {
        Path photo = dir.resolve("photo.png");
        ImageIO.write(new BufferedImage(4000, 3000, BufferedImage.TYPE_INT_RGB), "png", photo.toFile());
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long[] during = new long[1];
        model.run(Florence2Request.of(photo, Task.CAPTION), SHORT.greedy().withListener((image, id, piece) -> {
            if (during[0] == 0) {
                System.gc();
                during[0] = memory.getHeapMemoryUsage().getUsed();
            }
        }));
        System.gc();
        long after = memory.getHeapMemoryUsage().getUsed();
        long held = during[0] - after;
        assertTrue(held < 12_000_000, held + " more bytes of heap in use while the request ran than after it");
    }

    /** File channels fail on their thread's interrupt: a load must not report a sound folder as unreadable. */
    @Test
    void anInterruptedCallerLoadsAModelAndKeepsItsInterrupt() {
        Thread.currentThread().interrupt();
        Florence2 loaded;
        try {
            loaded = Florence2.load(golden.resolve("model"));
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt was swallowed");
        } finally {
            Thread.interrupted();
        }
        try (loaded) {
            assertInstanceOf(Caption.class, loaded.run(Florence2Request.of(image("small_37x29"), Task.CAPTION), SHORT));
        }
    }

    /**
     * A grown session (an earlier request's sizes with this one's) refused as too large falls back to this request's
     * own sizes: a request that fits alone must not fail for an earlier one's batch.
     */
    @Test
    void aGrownSessionTooLargeFallsBackToTheRequestsOwnSizes() {
        Session.Limits grown = new Session.Limits(3, 600, 20, 8000);
        Session.Limits needed = new Session.Limits(1, 600, 1, 8000);
        List<Session.Limits> asked = new ArrayList<>();
        String made = Florence2.grownOrNeeded(limits -> {
            asked.add(limits);
            if (limits.maxImages() == 3) {
                throw new InvalidInputException("too large");
            }
            return "session for " + limits.maxImages();
        }, grown, needed);
        assertEquals("session for 1", made);
        assertEquals(List.of(grown, needed), asked);
        asked.clear();
        assertThrows(InvalidInputException.class, () -> Florence2.grownOrNeeded(limits -> {
            asked.add(limits);
            throw new InvalidInputException("too large alone");
        }, needed, needed));
        assertEquals(List.of(needed), asked, "a request refused on its own sizes is not tried twice");
    }

    /**
     * On a GPU the grown session's allocation is its size check: running out of device memory falls back to the
     * request's own sizes as a refusal does, and any other CUDA error is the request's failure.
     */
    @Test
    void aGrownSessionOutOfDeviceMemoryFallsBackToTheRequestsOwnSizes() {
        Session.Limits grown = new Session.Limits(3, 600, 20, 8000);
        Session.Limits needed = new Session.Limits(1, 600, 1, 8000);
        List<Session.Limits> asked = new ArrayList<>();
        for (String outOfMemory : List.of("cudaErrorMemoryAllocation", "CUDA_ERROR_OUT_OF_MEMORY",
                "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED")) {
            asked.clear();
            String made = Florence2.grownOrNeeded(limits -> {
                asked.add(limits);
                if (limits.maxImages() == 3) {
                    throw new CudaException("cudaMalloc", 2, outOfMemory);
                }
                return "session for " + limits.maxImages();
            }, grown, needed);
            assertEquals("session for 1", made, outOfMemory);
            assertEquals(List.of(grown, needed), asked, outOfMemory);
        }
        asked.clear();
        var launch = assertThrows(CudaException.class, () -> Florence2.grownOrNeeded(limits -> {
            asked.add(limits);
            throw new CudaException("cudaLaunchKernel", 719, "cudaErrorLaunchFailure");
        }, grown, needed));
        assertEquals("cudaErrorLaunchFailure", launch.statusName());
        assertEquals(List.of(grown), asked, "another CUDA error is not retried");
    }

    @Test
    void batchRowsEqualSingleRuns() {
        List<Florence2Request> requests = List.of(
                Florence2Request.of(image("gradient_160x160"), Task.DETAILED_CAPTION),
                Florence2Request.of(image("small_37x29"), Task.OPEN_VOCABULARY_DETECTION, "cat"));
        List<Florence2Result> batch = model.runBatch(requests, SHORT.withNumBeams(3));
        for (int i = 0; i < requests.size(); i++) {
            assertArrayEquals(model.run(requests.get(i), SHORT.withNumBeams(3)).generation().generatedIds(),
                    batch.get(i).generation().generatedIds(), "row " + i);
        }
    }

    @Test
    void greedyStreamsEveryTokenAsItIsChosen() {
        List<Integer> streamed = new ArrayList<>();
        List<String> pieces = new ArrayList<>();
        Florence2Result result = model.run(Florence2Request.of(image("noise_173x97"), Task.CAPTION),
                SHORT.greedy().withListener((image, id, piece) -> {
                    assertEquals(0, image);
                    streamed.add(id);
                    pieces.add(piece);
                }));
        int[] ids = result.generation().generatedIds();
        assertEquals(ids.length - 1, streamed.size());
        int decodedHere = 0;
        for (int i = 1; i < ids.length; i++) {
            assertEquals(ids[i], streamed.get(i - 1), "token " + i);
            String token = model.tokenizer().tokenOf(ids[i]);
            String own = byteLevelText(token);
            if (!token.startsWith("<") && own != null) {
                assertEquals(own, pieces.get(i - 1), "piece of token " + i + ", " + token);
                decodedHere++;
            }
        }
        assertTrue(decodedHere > 0, "some pieces are whole UTF-8 text: " + pieces);
        // Special tokens are streamed as themselves: the forced <s>, and the </s> that ends the caption (EOS, or
        // forced at the length limit).
        assertEquals("<s>", pieces.getFirst());
        assertEquals("</s>", pieces.getLast());
    }

    /**
     * A byte-level BPE token's text, decoded here independently of the tokenizer: GPT-2's map of printable
     * characters back to bytes, then UTF-8; {@code null} when the bytes are not whole UTF-8 characters.
     */
    private static String byteLevelText(String token) {
        Map<Integer, Integer> byteOf = new HashMap<>();
        int unprintable = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF;
            byteOf.put(printable ? b : 256 + unprintable++, b);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        token.codePoints().forEach(c -> bytes.write(byteOf.get(c)));
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    @Test
    void badCallsAreTypedErrors(@TempDir Path dir) throws Exception {
        Path image = image("gradient_160x160");
        var listenerWithBeams = assertThrows(InvalidInputException.class, () -> model.run(
                Florence2Request.of(image, Task.CAPTION), SHORT.withNumBeams(3).withListener((i, id, p) -> {})));
        assertTrue(listenerWithBeams.getMessage().contains("greedy"), listenerWithBeams.getMessage());
        var textForCaption = assertThrows(InvalidInputException.class,
                () -> model.run(Task.CAPTION, image, "a dog"));
        assertTrue(textForCaption.getMessage().contains("<CAPTION>"), textForCaption.getMessage());
        Path missing = dir.resolve("missing.png");
        var missingImage = assertThrows(InvalidInputException.class, () -> model.run(Task.CAPTION, missing));
        assertTrue(missingImage.getMessage().contains("missing.png"), missingImage.getMessage());
        Path notAModel = Files.createDirectories(dir.resolve("empty"));
        var notLoaded = assertThrows(CheckpointException.class, () -> Florence2.load(notAModel));
        assertEquals(1, notLoaded.getSuppressed().length, "the caller's frames of a load that failed on its thread");
        assertTrue(notLoaded.getSuppressed()[0].getMessage().startsWith("Florence2.load("),
                notLoaded.getSuppressed()[0].getMessage());
        assertThrows(InvalidInputException.class, () -> model.runBatch(List.of()));
        assertThrows(IllegalArgumentException.class, () -> ImageSource.of((Path) null));
        assertThrows(IllegalArgumentException.class, () -> ImageSource.of((byte[]) null, "upload"));
        assertThrows(IllegalArgumentException.class, () -> ImageSource.of(new byte[8], null));
        var pastMaxLength = assertThrows(InvalidInputException.class, () -> SHORT.withMaxNewTokens(Integer.MAX_VALUE));
        assertTrue(pastMaxLength.getMessage().contains("must be 1 to 2147483646"), pastMaxLength.getMessage());
        // Refused before the session is sized for it: it used to grow the model's buffers for good first.
        var tooLongPrompt = assertThrows(InvalidInputException.class,
                () -> model.run(Florence2Request.ofPrompt(image, "cat ".repeat(5_000)), SHORT));
        assertTrue(tooLongPrompt.getMessage().contains("exceeds the encoder's"), tooLongPrompt.getMessage());
        assertTrue(tooLongPrompt.getMessage().contains("prompt tokens fit"), tooLongPrompt.getMessage());
        // Refused before the images are preprocessed (the resized-image tap comes right after): a batch too large
        // used to hold all its pixels first.
        List<String> tapped = new ArrayList<>();
        var tooManyBeams = assertThrows(InvalidInputException.class, () -> model.run(
                Florence2Request.of(image, Task.CAPTION), SHORT.withNumBeams(100_000)
                        .withTaps((name, tensor) -> tapped.add(name))));
        assertTrue(tooManyBeams.getMessage().contains("fewer images, beams or new tokens"), tooManyBeams.getMessage());
        assertEquals(List.of(), tapped, "taps of a request refused before preprocessing");
        // The tiny model's processor fixes the image size, so that refusal comes before the image is even decoded.
        var beforeDecoding = assertThrows(InvalidInputException.class, () -> model.run(
                Florence2Request.of(missing, Task.CAPTION), SHORT.withNumBeams(100_000)));
        assertTrue(beforeDecoding.getMessage().contains("fewer images, beams or new tokens"),
                beforeDecoding.getMessage());
        var pastJavaArrays = assertThrows(InvalidInputException.class, () -> model.run(
                Florence2Request.of(image, Task.CAPTION), SHORT.withNumBeams(40_000)));
        assertTrue(pastJavaArrays.getMessage().contains("longer than Java's arrays"), pastJavaArrays.getMessage());
        var threads = assertThrows(IllegalArgumentException.class, () -> Florence2Options.defaults().withThreads(
                CpuBackend.MAX_THREADS + 1));
        assertTrue(threads.getMessage().contains("0 to " + CpuBackend.MAX_THREADS), threads.getMessage());
        assertEquals(CpuBackend.MAX_THREADS, Florence2Options.defaults().withThreads(CpuBackend.MAX_THREADS).threads());
    }

    /**
     * close() racing requests from other threads: each request either finishes or is refused with
     * IllegalStateException, never fails otherwise or hangs, and close() returns once.
     */
    @Test
    void closeRacingRequestsFinishesOrRefusesEach() throws Exception {
        Florence2Request request = Florence2Request.of(image("small_37x29"), Task.CAPTION);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            for (int round = 0; round < 4; round++) {
                Florence2 racing = Florence2.load(golden.resolve("model"));
                List<Future<Florence2Result>> runs = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    runs.add(pool.submit(() -> racing.run(request, SHORT)));
                }
                Thread.sleep(round * 5L);
                racing.close();
                for (Future<Florence2Result> run : runs) {
                    try {
                        assertInstanceOf(Caption.class, run.get(60, TimeUnit.SECONDS));
                    } catch (ExecutionException e) {
                        assertInstanceOf(IllegalStateException.class, e.getCause());
                        assertTrue(e.getCause().getMessage().contains("used after close()"),
                                e.getCause().getMessage());
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aClosedModelRefusesWork() {
        Florence2 second = Florence2.load(golden.resolve("model"));
        second.close();
        second.close();
        assertThrows(IllegalStateException.class,
                () -> second.run(Florence2Request.of(image("small_37x29"), Task.CAPTION), SHORT));
        var beforeTheImage = assertThrows(IllegalStateException.class,
                () -> second.run(Task.CAPTION, golden.resolve("images/missing.png")));
        assertTrue(beforeTheImage.getMessage().contains("used after close()"), beforeTheImage.getMessage());
    }
}
