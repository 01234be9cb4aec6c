package org.florence2j.bench.e2e;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.florence2j.Task;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.bench.RandomCheckpoint;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.generate.GenerationOptions;
import org.florence2j.model.Florence2Model;
import org.florence2j.model.Session;
import org.florence2j.model.Taps;
import org.florence2j.task.TaskPrompts;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.florence2j.tokenizer.BartTokenizer;

/**
 * Issue 7.5: stage timings and end-to-end throughput of full-size Florence-2 shapes (base and large) with random
 * weights, on one device. For each model it writes a random F32 checkpoint with {@link RandomCheckpoint} (once;
 * an existing folder is reused), loads it, and runs one random image through {@link Session#generate} with 3
 * beams, reporting:
 * <ul>
 *   <li>vision: DaViT and the image projection, from the uploaded pixels to {@code image_features};</li>
 *   <li>encoder: prompt embedding and the BART encoder, to {@code encoder_last_hidden_state};</li>
 *   <li>step: one decode step for the 3 beams, the median time between successive {@code decoder_logits}
 *       (decoder forward, logits download, beam search on the host, cache reorder);</li>
 *   <li>{@code <CAPTION>} and {@code <OD>} end to end (pixels on the host to ids), with their tokens per second
 *       (new tokens of the image, not counting beams).</li>
 * </ul>
 * Stage boundaries come from {@link Taps}, which synchronise the device before reading the clock. Random weights
 * would stop at an arbitrary length, so EOS is disabled and every run generates exactly the requested tokens
 * ({@code --caption-tokens}, {@code --od-tokens}): the work is that of a real caption or a 1024-token detection.
 * Vision, encoder, step and caption are medians of {@code --runs} runs after two warm-ups (the first compiles the
 * kernels, the second captures the vision pass as a graph); {@code <OD>} runs once. The vision pass is replayed as a
 * CUDA graph unless {@code --vision-graph false}, which runs it eagerly, op by op, for comparison. {@code --dtype}
 * is the backend's compute type ({@code Backends.open}): on CUDA, bf16 or f16 keep the linear layers' weights in that
 * type and run their GEMMs on tensor cores; on the CPU, bf16 is its bf16 mode and f16 runs as f32.
 *
 * <p>On a CUDA device it first compares the two convolution paths ({@link ConvolutionPathBench}: cuDNN against
 * im2col plus cuBLAS, at Florence-2-base's DaViT shapes, {@code --conv-runs} calls each; 0 skips it). The model
 * runs use the path {@code -Dflorence2j.cuda.conv} selects (by default {@code auto}: cuDNN for the 7×7 stem where
 * it loads, the hand-written kernels for the rest).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
 *     -cp bench/target/benchmarks.jar org.florence2j.bench.e2e.GpuBench [--device cuda:0|cpu]
 *     [--models base,large] [--image-size 768] [--caption-tokens 20] [--od-tokens 1024] [--runs 3]
 *     [--conv-runs 20] [--dir /tmp/florence2j-bench] [--configs core/src/test/resources/golden/configs]
 *     [--tokenizer core/src/test/resources/golden/tiny/model] [--vision-graph true|false] [--dtype f32|bf16|f16]
 * </pre>
 */
public final class GpuBench {
    private static final int BEAMS = 3;

    /** The command line's settings. */
    record Settings(Device device, List<String> models, int imageSize, int captionTokens, int odTokens, int runs,
            int convRuns, Path dir, Path configs, Path tokenizer, boolean visionGraph, DType dtype) {
        static Settings parse(String[] args) {
            Device device = Device.cuda(0);
            List<String> models = List.of("base", "large");
            int imageSize = 768;
            int captionTokens = 20;
            int odTokens = 1024;
            int runs = 3;
            int convRuns = 20;
            Path dir = Path.of("/tmp/florence2j-bench");
            Path configs = Path.of("core/src/test/resources/golden/configs");
            Path tokenizer = Path.of("core/src/test/resources/golden/tiny/model");
            boolean visionGraph = true;
            DType dtype = DType.F32;
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value");
                }
                String value = args[i + 1];
                switch (args[i]) {
                    case "--device" -> device = parseDevice(value);
                    case "--models" -> models = List.of(value.split(","));
                    case "--image-size" -> imageSize = Integer.parseInt(value);
                    case "--caption-tokens" -> captionTokens = Integer.parseInt(value);
                    case "--od-tokens" -> odTokens = Integer.parseInt(value);
                    case "--runs" -> runs = Integer.parseInt(value);
                    case "--conv-runs" -> convRuns = Integer.parseInt(value);
                    case "--dir" -> dir = Path.of(value);
                    case "--configs" -> configs = Path.of(value);
                    case "--tokenizer" -> tokenizer = Path.of(value);
                    case "--vision-graph" -> visionGraph = parseBoolean(value);
                    case "--dtype" -> dtype = parseDtype(value);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (imageSize % 32 != 0 || captionTokens < 1 || odTokens < 1 || runs < 1 || convRuns < 0) {
                throw new IllegalArgumentException("--image-size must be a multiple of 32, --caption-tokens,"
                        + " --od-tokens and --runs at least 1, and --conv-runs at least 0");
            }
            return new Settings(device, models, imageSize, captionTokens, odTokens, runs, convRuns, dir, configs,
                    tokenizer, visionGraph, dtype);
        }

        private static DType parseDtype(String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "f32" -> DType.F32;
                case "bf16" -> DType.BF16;
                case "f16" -> DType.F16;
                default -> throw new IllegalArgumentException("--dtype must be f32, bf16 or f16, got '" + value + "'");
            };
        }

        private static boolean parseBoolean(String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new IllegalArgumentException("--vision-graph must be true or false, got '" + value
                        + "'");
            };
        }

        private static Device parseDevice(String name) {
            Matcher cuda = Pattern.compile("cuda(?::(\\d{1,3}))?").matcher(name.trim().toLowerCase(Locale.ROOT));
            if (cuda.matches()) {
                return Device.cuda(cuda.group(1) == null ? 0 : Integer.parseInt(cuda.group(1)));
            }
            if (name.trim().equalsIgnoreCase("cpu")) {
                return Device.cpu();
            }
            throw new IllegalArgumentException("--device must be cpu, cuda or cuda:N, got '" + name + "'");
        }
    }

    /** One timed generation: its stage times in milliseconds, and the new tokens it produced. */
    record Run(double visionMs, double encoderMs, double stepMs, double totalMs, int newTokens) {
        double tokensPerSecond() {
            return newTokens / (totalMs / 1e3);
        }
    }

    private GpuBench() {}

    public static void main(String[] args) throws IOException {
        Settings settings;
        try {
            settings = Settings.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("GpuBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (settings.device().kind() == Device.Kind.CUDA && settings.convRuns() > 0) {
            ConvolutionPathBench.run(settings.device().ordinal(), settings.convRuns());
            System.out.println();
        }
        System.out.printf("GpuBench on %s: %dx%d image, %d beams, <CAPTION> %d tokens (median of %d), <OD> %d tokens;"
                + " random F32 weights computed in %s, EOS disabled; vision pass %s%n", settings.device(),
                settings.imageSize(), settings.imageSize(), BEAMS, settings.captionTokens(), settings.runs(),
                settings.odTokens(), settings.dtype() == DType.F16 && settings.device().isHost() ? "F32 (the CPU's F16)"
                        : settings.dtype(), settings.visionGraph() ? "through its graph" : "eager");
        List<String> rows = new ArrayList<>();
        rows.add(String.format("%-6s %8s %9s %10s %8s %12s %9s %12s %9s", "model", "load_s", "vision_ms",
                "encoder_ms", "step_ms", "caption_ms", "cap_tok/s", "od_ms", "od_tok/s"));
        for (String model : settings.models()) {
            rows.add(benchmark(settings, model));
            System.out.println(rows.getLast());
        }
        System.out.println();
        rows.forEach(System.out::println);
    }

    /** Writes (or reuses) the model's random checkpoint, loads it, runs it, and returns its table row. */
    private static String benchmark(Settings settings, String modelName) throws IOException {
        Path folder = settings.dir().resolve(modelName + "-f32");
        if (!Files.exists(folder.resolve("model.safetensors"))) {
            long start = System.nanoTime();
            RandomCheckpoint.write(settings.configs().resolve("config-" + modelName + ".json"), settings.tokenizer(),
                    folder, DType.F32, settings.imageSize());
            System.out.printf("%s: wrote %s in %.1f s%n", modelName, folder, seconds(start));
        }
        long loadStart = System.nanoTime();
        try (Backend backend = Backends.open(settings.device(), 0, settings.dtype());
                LoadedCheckpoint checkpoint = Checkpoints.open(folder);
                Florence2Model model = Florence2Model.load(checkpoint.checkpoint(), checkpoint.config(), backend)) {
            backend.synchronize();
            double loadSeconds = seconds(loadStart);
            if (backend instanceof CudaBackend cuda) {
                System.out.printf("%s: convolutions on the %s path%n", modelName, cuda.convolutionPath());
            }
            BartTokenizer tokenizer = BartTokenizer.load(folder);
            int[] caption = tokenizer.encode(TaskPrompts.build(Task.CAPTION, null));
            int[] od = tokenizer.encode(TaskPrompts.build(Task.OD, null));
            int size = settings.imageSize();
            int gridTokens = model.davit().outputShape(1, size, size).dim(1);
            int encoderTokens = model.projector().tokenCount(gridTokens) + Math.max(caption.length, od.length);
            int maxNewTokens = Math.max(settings.captionTokens(), settings.odTokens());
            GenerationOptions options = fixedLength(model, settings.captionTokens());
            try (Arena arena = Arena.ofConfined();
                    Session session = model.newSession(new Session.Limits(1, encoderTokens, maxNewTokens, BEAMS))) {
                Tensor pixels = randomPixels(size, arena);
                StageClock clock = new StageClock(backend, settings.visionGraph());
                session.setTaps(clock);
                run(session, clock, pixels, caption, options);
                run(session, clock, pixels, caption, options);
                List<Run> captions = new ArrayList<>();
                for (int i = 0; i < settings.runs(); i++) {
                    captions.add(run(session, clock, pixels, caption, options));
                }
                Run detection = run(session, clock, pixels, od, fixedLength(model, settings.odTokens()));
                return String.format(Locale.ROOT, "%-6s %8.1f %9.1f %10.1f %8.2f %12.1f %9.1f %12.1f %9.1f",
                        modelName, loadSeconds, median(captions, Run::visionMs), median(captions, Run::encoderMs),
                        median(captions, Run::stepMs), median(captions, Run::totalMs),
                        median(captions, Run::tokensPerSecond), detection.totalMs(), detection.tokensPerSecond());
            }
        }
    }

    /**
     * The model's generation settings with {@code tokens} new tokens, {@link #BEAMS} beams and no EOS (neither
     * chosen nor forced at the end), so the run always generates exactly {@code tokens}.
     */
    private static GenerationOptions fixedLength(Florence2Model model, int tokens) {
        GenerationOptions c = GenerationOptions.fromConfig(model.config().text(), tokens).withNumBeams(BEAMS);
        return new GenerationOptions(c.numBeams(), c.maxNewTokens(), c.noRepeatNgramSize(), c.decoderStartToken(),
                -1, c.padToken(), c.forcedBosToken(), -1, c.lengthPenalty(), c.earlyStopping(), c.minNewTokens());
    }

    private static Run run(Session session, StageClock clock, Tensor pixels, int[] prompt, GenerationOptions options) {
        clock.reset();
        long start = System.nanoTime();
        session.generate(pixels, List.of(prompt), options);
        return clock.finish((System.nanoTime() - start) / 1e6);
    }

    /** Normalised pixel values {@code [1, 3, size, size]}, uniform in [-2, 2), seeded. */
    private static Tensor randomPixels(int size, Arena arena) {
        SplittableRandom random = new SplittableRandom(7);
        float[] values = new float[3 * size * size];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextDouble() * 4 - 2);
        }
        return Tensor.ofFloats(Shape.of(1, 3, size, size), arena, values);
    }

    private static double median(List<Run> runs, ToDoubleFunction<Run> metric) {
        double[] values = runs.stream().mapToDouble(metric).sorted().toArray();
        return values[values.length / 2];
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /**
     * Reads the clock at the taps that end each stage, after waiting for the device: {@code pixel_values} (the
     * upload done), {@code image_features}, {@code encoder_last_hidden_state}, and every {@code decoder_logits}.
     */
    private static final class StageClock implements Taps {
        private final Backend backend;
        private final boolean readsVisionTower;
        private long pixels;
        private long features;
        private long encoded;
        private final List<Long> steps = new ArrayList<>();

        StageClock(Backend backend, boolean visionGraph) {
            this.backend = backend;
            this.readsVisionTower = !visionGraph;
        }

        void reset() {
            pixels = 0;
            features = 0;
            encoded = 0;
            steps.clear();
        }

        @Override
        public void tap(String name, Tensor tensor) {
            switch (name) {
                case "pixel_values" -> pixels = now();
                case "image_features" -> features = now();
                case "encoder_last_hidden_state" -> encoded = now();
                case "decoder_logits" -> steps.add(now());
                default -> { }
            }
        }

        /**
         * None of the clock's taps is inside the tower, which a GPU session may then replay as one graph; with
         * {@code --vision-graph false} the clock claims to read it, so that every pass runs eagerly.
         */
        @Override
        public boolean readsVisionTower() {
            return readsVisionTower;
        }

        private long now() {
            backend.synchronize();
            return System.nanoTime();
        }

        /**
         * The stages of the run just finished; the step time is the median gap between successive steps, and the
         * new tokens are the decoder steps run (one token per beam each).
         */
        Run finish(double totalMs) {
            if (pixels == 0 || features == 0 || encoded == 0 || steps.size() < 2) {
                throw new IllegalStateException("stage taps missing: pixel_values " + (pixels != 0)
                        + ", image_features " + (features != 0) + ", encoder_last_hidden_state " + (encoded != 0)
                        + ", decoder_logits " + steps.size() + " time(s); generate at least 2 tokens");
            }
            double[] gaps = new double[steps.size() - 1];
            for (int i = 1; i < steps.size(); i++) {
                gaps[i - 1] = (steps.get(i) - steps.get(i - 1)) / 1e6;
            }
            Arrays.sort(gaps);
            return new Run((features - pixels) / 1e6, (encoded - features) / 1e6, gaps[gaps.length / 2], totalMs,
                    steps.size());
        }
    }
}
