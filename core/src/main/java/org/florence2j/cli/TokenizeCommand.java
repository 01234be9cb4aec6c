package org.florence2j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.florence2j.InvalidInputException;
import org.florence2j.tokenizer.BartTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code florence2 tokenize}: text to ids, or ids to text with {@code --decode}, with the model's tokenizer, as
 * JSON. Encoding prints one line per text: {@code {"text", "ids", "tokens"}}. Decoding reads every argument as
 * ids (separated by spaces or commas, brackets allowed) and prints one line: {@code {"ids", "text",
 * "text_skip_special"}}.
 */
@Command(name = "tokenize", sortOptions = false, mixinStandardHelpOptions = true,
        versionProvider = Florence2Command.Version.class,
        description = "Prints the token ids of each TEXT (or, with --decode, the text of the ids) as JSON.")
final class TokenizeCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Model folder holding the tokenizer files (tokenizer.json, vocab.json, merges.txt).")
    private Path model;

    @Option(names = "--decode", description = "Decode ids to text instead.")
    private boolean decode;

    @Parameters(arity = "1..*", paramLabel = "TEXT", description = "Texts to encode, or ids to decode.")
    private List<String> inputs;

    @Override
    public Integer call() throws JsonProcessingException {
        BartTokenizer tokenizer = BartTokenizer.load(model);
        PrintWriter out = spec.commandLine().getOut();
        if (decode) {
            int[] ids = parseIds(inputs);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("ids", Arrays.stream(ids).boxed().toList());
            line.put("text", tokenizer.decode(ids, false));
            line.put("text_skip_special", tokenizer.decode(ids, true));
            out.println(JSON.writeValueAsString(line));
        } else {
            for (String text : inputs) {
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("text", text);
                line.put("ids", Arrays.stream(tokenizer.encode(text)).boxed().toList());
                line.put("tokens", tokenizer.tokens(text));
                out.println(JSON.writeValueAsString(line));
            }
        }
        out.flush();
        return ExitCodes.OK;
    }

    /** Token ids from arguments such as {@code 0 2264 2}, {@code 0,2264,2} or {@code [0, 2264, 2]}. */
    static int[] parseIds(List<String> arguments) {
        List<Integer> ids = new ArrayList<>();
        for (String argument : arguments) {
            for (String part : argument.replace('[', ' ').replace(']', ' ').split("[,\\s]+")) {
                if (part.isEmpty()) {
                    continue;
                }
                try {
                    ids.add(Integer.parseInt(part));
                } catch (NumberFormatException e) {
                    throw new InvalidInputException("--decode takes token ids, but '" + part + "' is not one");
                }
            }
        }
        if (ids.isEmpty()) {
            throw new InvalidInputException("--decode got no token ids");
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
