package org.florence2j.bench.e2e;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.SplittableRandom;
import org.florence2j.Task;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.config.Florence2Config;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.generate.GenerationResult;
import org.florence2j.image.ImageProcessor;
import org.florence2j.image.RgbImage;
import org.florence2j.model.Florence2Model;
import org.florence2j.model.Session;
import org.florence2j.task.TaskPrompts;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tokenizer.BartTokenizer;

/**
 * One task end to end on the random Florence-2-base folder, warm and in process: image preprocessing (a random
 * 640×480 image resized to 768×768), prompt tokenizing, the vision tower, the encoder and beam search (3 beams).
 *
 * <p>The number of generated tokens is forced, so random weights do not change the work: the generation options
 * are the config's with {@code eos_token_id} and {@code forced_eos_token_id} set to -1 (no token id), so no beam
 * ever finishes and every request decodes exactly {@code newTokens} tokens. {@link #open} checks it once.
 */
final class EndToEnd implements AutoCloseable {
    private static final int IMAGE_WIDTH = 640;
    private static final int IMAGE_HEIGHT = 480;
    private static final int BEAMS = 3;

    /** The {@code dtype} value of an F32 model whose decoder's per-step weights are bf16 ({@code bf16Decoder}). */
    static final String BF16_DECODER = "f32-bf16-decoder";

    private final LoadedCheckpoint checkpoint;
    private final Backend backend;
    private final Florence2Model model;
    private final Session session;
    private final ImageProcessor processor;
    private final BartTokenizer tokenizer;
    private final RgbImage image;
    private final String prompt;
    private final GenerationOptions options;

    private EndToEnd(LoadedCheckpoint checkpoint, Backend backend, Florence2Model model, Session session,
            ImageProcessor processor, BartTokenizer tokenizer, RgbImage image, String prompt,
            GenerationOptions options) {
        this.checkpoint = checkpoint;
        this.backend = backend;
        this.model = model;
        this.session = session;
        this.processor = processor;
        this.tokenizer = tokenizer;
        this.image = image;
        this.prompt = prompt;
        this.options = options;
    }

    /**
     * Loads the model on a CPU backend computing in {@code dtype} ({@code f32}, {@code bf16}, or
     * {@value #BF16_DECODER}) and checks that one request generates exactly {@code newTokens} tokens.
     */
    static EndToEnd open(Task task, int newTokens, String dtype) {
        var folder = RandomBaseFolder.get(DType.F32);
        LoadedCheckpoint checkpoint = Checkpoints.open(folder);
        Florence2Config config = checkpoint.config();
        boolean bf16Decoder = dtype.equals(BF16_DECODER);
        DType computeType = bf16Decoder ? DType.F32 : DType.valueOf(dtype.toUpperCase(java.util.Locale.ROOT));
        Backend backend = Backends.open(Device.cpu(), 0, computeType);
        Florence2Model model = Florence2Model.load(checkpoint.checkpoint(), config, backend,
                bf16Decoder ? DType.BF16 : DType.F32);
        ImageProcessor processor = ImageProcessor.load(folder);
        BartTokenizer tokenizer = BartTokenizer.load(folder);
        String prompt = TaskPrompts.build(task, null);
        RgbImage image = randomImage();
        RgbImage processed = processor.resizeAndCrop(image);
        int imageTokens = model.projector().tokenCount(
                model.davit().outputShape(1, processed.height(), processed.width()).dim(1));
        int promptTokens = tokenizer.encode(prompt).length;
        Session session = model.newSession(new Session.Limits(1, imageTokens + promptTokens, newTokens, BEAMS));
        GenerationOptions base = GenerationOptions.fromConfig(config.text(), newTokens);
        GenerationOptions options = new GenerationOptions(BEAMS, newTokens, base.noRepeatNgramSize(),
                base.decoderStartToken(), -1, base.padToken(), base.forcedBosToken(), -1, base.lengthPenalty(),
                base.earlyStopping(), base.minNewTokens());
        EndToEnd run = new EndToEnd(checkpoint, backend, model, session, processor, tokenizer,
                image, prompt, options);
        int generated = run.run().sequence().length - 1;
        if (generated != newTokens) {
            run.close();
            throw new IllegalStateException(task + ": generated " + generated + " tokens, expected " + newTokens);
        }
        return run;
    }

    /** One request: preprocess, tokenize, generate. */
    GenerationResult run() {
        try (Arena request = Arena.ofConfined()) {
            ImageProcessor.Processed processed = processor.preprocess(image, request);
            return session.generate(processed.pixelValues(), List.of(tokenizer.encode(prompt)), options)[0];
        }
    }

    /** A random 640×480 image, the same every time. */
    static RgbImage randomImage() {
        byte[] pixels = new byte[IMAGE_WIDTH * IMAGE_HEIGHT * 3];
        new SplittableRandom(11).nextBytes(pixels);
        return new RgbImage(IMAGE_WIDTH, IMAGE_HEIGHT, pixels);
    }

    @Override
    public void close() {
        session.close();
        model.close();
        backend.close();
        checkpoint.close();
    }
}
