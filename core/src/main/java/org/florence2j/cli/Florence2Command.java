package org.florence2j.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import org.florence2j.bindings.Libc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code florence2} command line: {@code run} a task on images, {@code tokenize} text, show a model folder's
 * {@code info}, {@code convert} a model folder to safetensors.
 *
 * <p>Only {@link #main} exits the JVM; {@link #execute(ModelSource, PrintWriter, PrintWriter, String...)} runs a
 * command line in-process and returns its exit code ({@link ExitCodes}). Expected errors print one line naming
 * the input and the cause on stderr; anything else is a bug and prints its stack trace.
 */
@Command(name = "florence2", mixinStandardHelpOptions = true, versionProvider = Florence2Command.Version.class,
        description = "Runs Microsoft Florence-2 vision-language models on images, in Java.",
        subcommands = {RunCommand.class, TokenizeCommand.class, InfoCommand.class, ConvertCommand.class,
                CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:unexpected error (a bug: please report the stack trace)",
                "2:usage error (unknown option, missing or malformed value)",
                "3:bad input (image, task, text, or a --draw/--dump-taps file that cannot be written)",
                "4:bad model folder or checkpoint (or a convert output that cannot be written)",
                "5:native library or device problem (oneDNN, CUDA)",
                "6:a request ran past run --timeout"})
public final class Florence2Command implements Callable<Integer> {
    private static final int STDERR = 2;

    private final ModelSource models;
    private final BooleanSupplier errIsTerminal;

    @Spec
    private CommandSpec spec;

    Florence2Command(ModelSource models, BooleanSupplier errIsTerminal) {
        this.models = models;
        this.errIsTerminal = errIsTerminal;
    }

    /** Where the subcommands get their models. */
    ModelSource models() {
        return models;
    }

    /** Whether standard error is a terminal, where {@code run} draws its progress bar over several images. */
    boolean errIsTerminal() {
        return errIsTerminal.getAsBoolean();
    }

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing command: one of run, tokenize, info, convert");
    }

    /** Runs the command line and exits with its code. */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        // File descriptor 2 itself (System.console() answers for stdin and stdout), asked only by a run of several
        // images: the other commands need not load the C library.
        int code = execute(ModelSource.LOADING, out, err, () -> Libc.isatty(STDERR), args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * Runs a command line in-process, as with a standard error that is no terminal (no progress bar).
     *
     * @param models where {@code run} gets its model
     * @param out    standard output: results
     * @param err    standard error: messages
     * @return the exit code, one of {@link ExitCodes}
     */
    public static int execute(ModelSource models, PrintWriter out, PrintWriter err, String... args) {
        return execute(models, out, err, () -> false, args);
    }

    /**
     * Runs a command line in-process.
     *
     * @param models        where {@code run} gets its model
     * @param out           standard output: results
     * @param err           standard error: messages, and progress when it is a terminal
     * @param errIsTerminal whether {@code err} is a terminal, where {@code run} draws a progress bar over several
     *                      images (asked only by such a run)
     * @return the exit code, one of {@link ExitCodes}
     */
    public static int execute(ModelSource models, PrintWriter out, PrintWriter err, BooleanSupplier errIsTerminal,
            String... args) {
        CommandLine commandLine = new CommandLine(new Florence2Command(models, errIsTerminal));
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setExecutionExceptionHandler((error, failed, parseResult) -> {
            int code = ExitCodes.of(error);
            PrintWriter messages = failed.getErr();
            if (ExitCodes.expected(code)) {
                messages.println("florence2 " + failed.getCommandName() + ": " + error.getMessage());
            } else {
                messages.println("florence2 " + failed.getCommandName() + ": unexpected error; this is a bug,"
                        + " please report it with this trace:");
                error.printStackTrace(messages);
            }
            messages.flush();
            return code;
        });
        int code = commandLine.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** The version from the jar's manifest, when there is one. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Florence2Command.class.getPackage().getImplementationVersion();
            return new String[] {"florence2j " + (version == null ? "(development build)" : version)};
        }
    }
}
