package org.florence2j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.florence2j.Florence2;
import org.florence2j.Florence2Options;
import org.florence2j.Florence2Request;
import org.florence2j.Florence2Result;
import org.florence2j.ImageSource;
import org.florence2j.InvalidInputException;
import org.florence2j.RequestTimeoutException;
import org.florence2j.RunOptions;
import org.florence2j.Task;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.config.EarlyStopping;
import org.florence2j.task.TaskPrompts;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code florence2 run}: one task on images, one image at a time, each printed as soon as it is done.
 *
 * <p>With several images, {@code --draw OUT.png} and {@code --dump-taps FILE.safetensors} write one file per
 * image, named with the image's index before the extension ({@code OUT-0.png}, {@code OUT-1.png}, …).
 */
@Command(name = "run", sortOptions = false, mixinStandardHelpOptions = true,
        versionProvider = Florence2Command.Version.class, description = "Runs a Florence-2 task on images.",
        footer = {"", "Examples:",
                "  florence2 run --model Florence-2-base cat.jpg",
                "  florence2 run --model Florence-2-base --task OD --draw boxes.png cat.jpg",
                "  florence2 run --model Florence-2-base --task CAPTION_TO_PHRASE_GROUNDING --text 'a cat' cat.jpg",
                "  florence2 run --model Florence-2-base --json photos/",
                "  florence2 run --model Florence-2-DocVQA --prompt '<DocVQA>What is the total?' receipt.png"})
final class RunCommand implements Callable<Integer> {
    // A year: any longer is no limit.
    private static final long MAX_TIMEOUT_SECONDS = 365L * 24 * 3600;

    @ParentCommand
    private Florence2Command parent;

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Florence-2 model folder (as downloaded from HuggingFace, or converted).")
    private Path model;

    @Option(names = "--task", defaultValue = "<CAPTION>", paramLabel = "TASK",
            description = "Task token, with or without <>, any case: CAPTION, DETAILED_CAPTION, "
                    + "MORE_DETAILED_CAPTION, OD, DENSE_REGION_CAPTION, REGION_PROPOSAL, CAPTION_TO_PHRASE_GROUNDING, "
                    + "REFERRING_EXPRESSION_SEGMENTATION, REGION_TO_SEGMENTATION, OPEN_VOCABULARY_DETECTION, "
                    + "REGION_TO_CATEGORY, REGION_TO_DESCRIPTION, REGION_TO_OCR, OCR, OCR_WITH_REGION. "
                    + "Default: ${DEFAULT-VALUE}.")
    private String task;

    @Option(names = "--text", paramLabel = "TEXT",
            description = "The task's text: a caption, a phrase, or a region as <loc_x1><loc_y1><loc_x2><loc_y2>.")
    private String text;

    @Option(names = "--prompt", paramLabel = "PROMPT",
            description = "Instead of --task and --text: a prompt as the reference's processor takes it, e.g. "
                    + "'<CAPTION_TO_PHRASE_GROUNDING>a cat', or a fine-tuned model's own ('<DocVQA>What is the "
                    + "total?'), sent as it is and answered as text.")
    private String prompt;

    @Option(names = "--num-beams", paramLabel = "N", description = "Beams (1: greedy). Default: the model's config.")
    private Integer numBeams;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "" + RunOptions.DEFAULT_MAX_NEW_TOKENS,
            description = "Tokens to generate at most. Past the decoder's learned positions (1024 in Florence-2) an"
                    + " image whose output has not ended by then fails (exit code 3). Default: ${DEFAULT-VALUE}.")
    private int maxNewTokens;

    @Option(names = "--early-stopping", paramLabel = "MODE",
            description = "When beam search ends: true, false or never, as the reference's generate(early_stopping=…)"
                    + " takes it (Florence-2's model card passes false). Default: the model's config.")
    private String earlyStopping;

    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "Stop an image's request that runs longer than this (decimals allowed); with several images"
                    + " the others still run. Exit code 6. Default: no limit.")
    private Double timeoutSeconds;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu",
            description = "cpu, cuda or cuda:N. Default: ${DEFAULT-VALUE}.")
    private String device;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "f32",
            description = "Compute dtype: f32, bf16 or f16 (f16 on CUDA only: the CPU runs it as f32). "
                    + "Default: ${DEFAULT-VALUE}.")
    private ComputeType dtype;

    @Option(names = "--bf16-decoder", description = "With --dtype f32 on the CPU: the decoder's per-step weights in"
            + " bf16 (faster long outputs where bf16 does not speed up the vision tower; see README).")
    private boolean bf16Decoder;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU threads per op (0: every core, or OMP_NUM_THREADS). Default: ${DEFAULT-VALUE}.")
    private int threads;

    @Option(names = "--json", description = "Print one JSON object per image per line.")
    private boolean json;

    @Option(names = "--draw", paramLabel = "OUT.png",
            description = "Write the image with the boxes, polygons or OCR quads and their labels drawn on it"
                    + " (PNG, or JPEG for a .jpg or .jpeg name).")
    private Path draw;

    @Option(names = "--dump-taps", paramLabel = "FILE.safetensors",
            description = "Write the intermediate tensors (pixel values, vision stages, encoder states).")
    private Path dumpTaps;

    @Parameters(arity = "1..*", paramLabel = "IMAGE",
            description = "Image files, or folders whose image files are all processed (in name order).")
    private List<Path> images;

    /** The compute dtypes offered on the command line. */
    enum ComputeType {
        F32(DType.F32), BF16(DType.BF16), F16(DType.F16);

        final DType dtype;

        ComputeType(DType dtype) {
            this.dtype = dtype;
        }
    }

    @Override
    public Integer call() {
        Florence2Options options = options();
        RunOptions runOptions = runOptions();
        TaskPrompts.Parsed request = request();
        if (draw != null && ResultDrawing.format(draw).isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--draw " + draw + ": " + ResultDrawing.FORMATS);
        }
        List<Path> files = ImageArguments.expand(images);
        checkOutputs("--draw", draw, files.size());
        checkOutputs("--dump-taps", dumpTaps, files.size());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ModelSource models = parent.models();
        Florence2 loaded = models.open(model, options);
        int failures = 0;
        int timeouts = 0;
        try (ProgressBar progress = ProgressBar.onTerminal(err, files.size(), parent::errIsTerminal)) {
            for (int i = 0; i < files.size(); i++) {
                Path file = files.get(i);
                try {
                    runOne(loaded, request, runOptions, file, files.size() == 1 ? -1 : i, out, progress);
                } catch (RequestTimeoutException e) {
                    // The others still get their own time; the message alone does not name the image.
                    progress.clearLine();
                    err.println("florence2 run: " + file + ": " + e.getMessage());
                    timeouts++;
                } catch (InvalidInputException e) {
                    if (files.size() == 1) {
                        throw e;
                    }
                    // One unreadable image in a folder should not lose the others' results.
                    progress.clearLine();
                    err.println("florence2 run: " + e.getMessage());
                    failures++;
                }
                progress.step(file);
            }
        } finally {
            models.release(loaded);
        }
        if (failures > 0) {
            return ExitCodes.BAD_INPUT;
        }
        return timeouts == 0 ? ExitCodes.OK : ExitCodes.TIMEOUT;
    }

    /**
     * The task and text asked for ({@code --task}, {@code --text}) or read from {@code --prompt}, checked before the
     * model loads.
     */
    private TaskPrompts.Parsed request() {
        TaskPrompts.Parsed request;
        if (prompt == null) {
            request = new TaskPrompts.Parsed(parseTask(task), text);
        } else if (spec.commandLine().getParseResult().hasMatchedOption("--task") || text != null) {
            throw new ParameterException(spec.commandLine(), "--prompt replaces --task and --text: give one or the"
                    + " other");
        } else {
            request = TaskPrompts.parse(prompt);
        }
        if (request.task() != null) {
            TaskPrompts.build(request.task(), request.text()); // refuses a text the task does not take
        }
        return request;
    }

    /**
     * {@code file}'s request, its refusal naming the file: an image's loading errors name it already (as
     * {@code image file 'path'}), a generation's or a session's do not and get it in front.
     */
    private static Florence2Result run(Florence2 loaded, Florence2Request request, RunOptions runOptions, Path file) {
        try {
            return loaded.run(request, runOptions);
        } catch (InvalidInputException e) {
            if (e.getMessage().contains("'" + file + "'")) {
                throw e;
            }
            throw new InvalidInputException(file + ": " + e.getMessage(), e);
        }
    }

    private void runOne(Florence2 loaded, TaskPrompts.Parsed asked, RunOptions runOptions, Path file, int index,
            PrintWriter out, ProgressBar progress) {
        Florence2Request request = new Florence2Request(ImageSource.of(file), asked.task(), asked.text());
        String givenPrompt = prompt != null ? prompt : asked.task().token() + (text == null ? "" : text);
        Florence2Result result;
        if (dumpTaps == null) {
            result = run(loaded, request, runOptions, file);
        } else {
            try (TapRecorder taps = new TapRecorder()) {
                result = run(loaded, request, runOptions.withTaps(taps), file);
                taps.write(indexed(dumpTaps, index), file, asked.task(), givenPrompt);
            }
        }
        progress.clearLine();
        out.println(json ? ResultJson.line(result, givenPrompt) : ResultText.describe(result));
        out.flush();
        if (draw != null) {
            ResultDrawing.write(result, file, indexed(draw, index));
        }
    }

    private Florence2Options options() {
        if (threads < 0 || threads > CpuBackend.MAX_THREADS) {
            throw new ParameterException(spec.commandLine(),
                    "--threads must be 0 to " + CpuBackend.MAX_THREADS + ", got " + threads);
        }
        Device chosen = parseDevice();
        if (dumpTaps != null && !chosen.isHost()) {
            throw new ParameterException(spec.commandLine(), "--dump-taps records host tensors: use it with"
                    + " --device cpu, not " + chosen);
        }
        if (bf16Decoder && (dtype != ComputeType.F32 || !chosen.isHost())) {
            throw new ParameterException(spec.commandLine(), "--bf16-decoder needs --dtype f32 on the cpu, not "
                    + dtype.name().toLowerCase(Locale.ROOT) + " on " + chosen);
        }
        return Florence2Options.defaults().withDevice(chosen).withDtype(dtype.dtype).withThreads(threads)
                .withBf16Decoder(bf16Decoder);
    }

    private RunOptions runOptions() {
        if (numBeams != null && numBeams < 1) {
            throw new ParameterException(spec.commandLine(), "--num-beams must be 1 or more, got " + numBeams);
        }
        if (maxNewTokens < 1 || maxNewTokens > RunOptions.MAX_NEW_TOKENS) {
            throw new ParameterException(spec.commandLine(),
                    "--max-new-tokens must be 1 to " + RunOptions.MAX_NEW_TOKENS + ", got " + maxNewTokens);
        }
        RunOptions base = RunOptions.defaults().withMaxNewTokens(maxNewTokens);
        if (earlyStopping != null) {
            base = base.withEarlyStopping(parseEarlyStopping());
        }
        if (timeoutSeconds != null) {
            long nanos = Math.round(timeoutSeconds * 1e9);
            if (!(timeoutSeconds <= MAX_TIMEOUT_SECONDS) || nanos < 1) {
                throw new ParameterException(spec.commandLine(), "--timeout must be at least a nanosecond and at"
                        + " most " + MAX_TIMEOUT_SECONDS + " seconds, got " + timeoutSeconds);
            }
            base = base.withTimeout(Duration.ofNanos(nanos));
        }
        return numBeams == null ? base : base.withNumBeams(numBeams);
    }

    /** The mode {@code --early-stopping} names, spelled as {@code config.json} spells it, in any case. */
    private EarlyStopping parseEarlyStopping() {
        for (EarlyStopping mode : EarlyStopping.values()) {
            if (mode.toString().equalsIgnoreCase(earlyStopping.trim())) {
                return mode;
            }
        }
        throw new ParameterException(spec.commandLine(),
                "--early-stopping must be true, false or never, got '" + earlyStopping + "'");
    }

    private Device parseDevice() {
        String name = device.trim().toLowerCase(Locale.ROOT);
        if (name.equals("cpu")) {
            return Device.cpu();
        }
        if (name.equals("cuda")) {
            return Device.cuda(0);
        }
        if (name.matches("cuda:\\d{1,3}")) {
            return Device.cuda(Integer.parseInt(name.substring("cuda:".length())));
        }
        throw new ParameterException(spec.commandLine(),
                "--device must be cpu, cuda or cuda:N, got '" + device + "'");
    }

    /** The task named {@code name}: its token with or without the angle brackets, in any case. */
    static Task parseTask(String name) {
        String token = name.trim().toUpperCase(Locale.ROOT);
        if (!token.startsWith("<")) {
            token = "<" + token + ">";
        }
        return Task.fromToken(token);
    }

    /** {@code file} itself for a single image ({@code index} -1), else {@code name-index.ext}. */
    static Path indexed(Path file, int index) {
        if (index < 0) {
            return file;
        }
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String indexedName = dot <= 0 ? name + "-" + index : name.substring(0, dot) + "-" + index
                + name.substring(dot);
        return file.resolveSibling(indexedName);
    }

    /** Checks the files {@code option} will write for {@code imageCount} images, if it was given. */
    private static void checkOutputs(String option, Path file, int imageCount) {
        if (file != null) {
            OutputFiles.check(option, IntStream.range(0, imageCount)
                    .mapToObj(i -> indexed(file, imageCount == 1 ? -1 : i)).toList());
        }
    }
}
