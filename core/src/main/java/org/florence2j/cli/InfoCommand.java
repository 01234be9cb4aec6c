package org.florence2j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.bindings.Dnnl;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.ModelConverter;
import org.florence2j.config.TextConfig;
import org.florence2j.config.VisionConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code florence2 info}: what a model folder holds, without loading the model: its layout and weight format, the
 * config, parameter counts, stored dtypes, the memory the weights take in each compute dtype, and the instruction
 * set oneDNN uses on this CPU.
 */
@Command(name = "info", sortOptions = false, mixinStandardHelpOptions = true,
        versionProvider = Florence2Command.Version.class,
        description = "Describes a model folder: layout, format, config, parameters, dtype and memory.")
final class InfoCommand implements Callable<Integer> {
    private static final double MIB = 1024.0 * 1024.0;

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder to describe.")
    private Path model;

    @Override
    public Integer call() {
        ModelConverter.ModelInfo info = ModelConverter.describe(model);
        VisionConfig vision = info.config().vision();
        TextConfig text = info.config().text();
        PrintWriter out = spec.commandLine().getOut();
        out.println("model folder: " + model);
        out.println("layout:       " + layout(info.layout()));
        out.println("format:       " + format(info.format()));
        out.printf(Locale.ROOT, "parameters:   %,d (%.1f M) in %d tensors%n", info.parameterCount(),
                info.parameterCount() / 1e6, info.tensorCount());
        out.println("stored dtype: " + info.dtypeHistogram().entrySet().stream()
                .map(entry -> entry.getKey() + " (" + entry.getValue() + " tensors)")
                .collect(Collectors.joining(", ")));
        out.printf(Locale.ROOT, "weights:      %.1f MiB as stored; %.1f MiB computed in f32, %.1f MiB in bf16/f16%n",
                info.weightBytes() / MIB, info.parameterCount() * 4 / MIB, info.parameterCount() * 2 / MIB);
        out.printf(Locale.ROOT, "vision:       DaViT, dims %s, depths %s, heads %s, groups %s, window %d,"
                + " projection %d%n", vision.dimEmbed(), vision.depths(), vision.numHeads(), vision.numGroups(),
                vision.windowSize(), vision.projectionDim());
        out.printf(Locale.ROOT, "text:         BART, d_model %d, %d encoder + %d decoder layers, %d heads, ffn %d,"
                + " vocab %d, %d positions%n", text.dModel(), text.encoderLayers(), text.decoderLayers(),
                text.encoderAttentionHeads(), text.encoderFfnDim(), text.vocabSize(), text.maxPositionEmbeddings());
        out.println("generation:   " + generation(text));
        out.println("this cpu:     " + cpu());
        out.flush();
        return ExitCodes.OK;
    }

    /**
     * The instruction set oneDNN uses here, which decides what bf16 buys: on an AMD Zen 5 ({@code avx512_core_bf16})
     * bf16 ran the vision tower 1.79× faster than F32, on an Intel Xeon without AMX ({@code avx512_core_fp16}) it
     * took 1.5–2× as long (README, {@code --dtype bf16}); and whether the JVM has the Vector API, which the
     * launcher leaves out (README, Library).
     */
    private static String cpu() {
        String vectorApi = ", Java Vector API " + (CpuBackend.vectorApiAvailable() ? "on" : "off");
        try {
            return "oneDNN ISA " + Dnnl.cpuIsaName(Dnnl.getEffectiveCpuIsa()) + ", "
                    + Runtime.getRuntime().availableProcessors() + " cores" + vectorApi;
        } catch (NativeLibraryException e) {
            return "oneDNN not loaded (" + e.getMessage().lines().findFirst().orElse("") + ")" + vectorApi;
        }
    }

    private static String layout(LoadedCheckpoint.Layout layout) {
        return switch (layout) {
            case REMOTE_CODE -> "remote code (microsoft/Florence-2-*, trust_remote_code)";
            case NATIVE -> "transformers-native (florence-community/Florence-2-*)";
        };
    }

    private static String format(LoadedCheckpoint.Format format) {
        return switch (format) {
            case SAFETENSORS -> "safetensors (model.safetensors)";
            case SHARDED_SAFETENSORS -> "sharded safetensors (model.safetensors.index.json)";
            case PYTORCH_BIN -> "PyTorch zip (pytorch_model.bin); `florence2 convert` makes it a memory-mapped"
                    + " safetensors folder";
        };
    }

    private static String generation(TextConfig text) {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("num_beams", text.numBeams());
        settings.put("no_repeat_ngram_size", text.noRepeatNgramSize());
        settings.put("early_stopping", text.earlyStopping());
        settings.put("length_penalty", text.lengthPenalty());
        settings.put("forced_bos_token_id", text.forcedBosTokenId());
        settings.put("forced_eos_token_id", text.forcedEosTokenId());
        return settings.entrySet().stream().filter(entry -> entry.getValue() != null)
                .map(entry -> entry.getKey() + " " + entry.getValue()).collect(Collectors.joining(", "));
    }
}
