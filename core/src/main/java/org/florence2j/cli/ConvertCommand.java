package org.florence2j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.florence2j.checkpoint.ModelConverter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code florence2 convert}: writes a model folder as florence2j's canonical folder (one {@code model.safetensors}
 * under remote-code names in one dtype, with the config, tokenizer and processor files), so that later loads are a
 * pure memory map. See {@link ModelConverter}.
 */
@Command(name = "convert", sortOptions = false, mixinStandardHelpOptions = true,
        versionProvider = Florence2Command.Version.class,
        description = "Converts a model folder (pytorch_model.bin, sharded or native-layout safetensors) to one "
                + "model.safetensors folder.")
final class ConvertCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder to convert.")
    private Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR2", description = "Folder to write (created).")
    private Path out;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "f32",
            description = "Dtype of the written weights: f32, bf16 or f16. Default: ${DEFAULT-VALUE}.")
    private RunCommand.ComputeType dtype;

    @Option(names = "--force", description = "Replace a model.safetensors already in the output folder.")
    private boolean force;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        ModelConverter.Conversion conversion = ModelConverter.convert(model, out, dtype.dtype, force);
        PrintWriter printed = spec.commandLine().getOut();
        printed.printf("wrote %s: %d tensors in %s%s, with config.json%s (%.1f s)%n",
                conversion.target().resolve("model.safetensors"), conversion.tensorCount(), conversion.dtype(),
                conversion.dropped().isEmpty() ? "" : " (dropped aliases of shared: " + conversion.dropped() + ")",
                conversion.copiedFiles().isEmpty() ? "" : " and " + String.join(", ", conversion.copiedFiles()),
                (System.nanoTime() - start) / 1e9);
        printed.flush();
        return ExitCodes.OK;
    }
}
