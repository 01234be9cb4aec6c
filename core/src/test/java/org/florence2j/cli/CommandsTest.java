package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;
import org.florence2j.Florence2;
import org.florence2j.TinyModelFolder;
import org.florence2j.bindings.Dnnl;
import org.florence2j.checkpoint.ModelConverter;
import org.florence2j.config.EarlyStopping;
import org.florence2j.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tokenize}, {@code info}, {@code convert}, {@code run --draw}, task spellings, prompts and early stopping,
 * in-process.
 */
class CommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = CliRun.goldenRoot();
    private static final String MODEL = ROOT.resolve("model").toString();
    private static CliRun.CachedModels models;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        models = new CliRun.CachedModels(Florence2::load);
    }

    @AfterAll
    static void close() {
        models.close();
    }

    @Test
    void tokenizeGivesTheReferenceIdsAndDecodeGivesTheText() throws IOException {
        JsonNode prompt = JSON.readTree(Files.readString(ROOT.resolve("index.json"))).get("prompts").get(0);
        CliRun.Result encoded = CliRun.run(models, "tokenize", "--model", MODEL,
                prompt.get("constructed_prompt").asText());
        assertEquals(0, encoded.code(), encoded.err());
        JsonNode line = JSON.readTree(encoded.out());
        assertEquals(prompt.get("input_ids"), line.get("ids"));
        assertEquals(prompt.get("tokens"), line.get("tokens"));

        CliRun.Result decoded = CliRun.run(models, "tokenize", "--model", MODEL, "--decode",
                line.get("ids").toString());
        assertEquals(0, decoded.code(), decoded.err());
        JsonNode text = JSON.readTree(decoded.out());
        assertEquals("<s>" + prompt.get("constructed_prompt").asText() + "</s>", text.get("text").asText());
        assertEquals(prompt.get("constructed_prompt").asText(), text.get("text_skip_special").asText());

        CliRun.Result notIds = CliRun.run(models, "tokenize", "--model", MODEL, "--decode", "0", "two");
        assertEquals(ExitCodes.BAD_INPUT, notIds.code(), notIds.err());
        assertTrue(notIds.err().contains("'two'"), notIds.err());
    }

    @Test
    void infoDescribesTheFolder() {
        ModelConverter.ModelInfo expected = ModelConverter.describe(Path.of(MODEL));
        CliRun.Result info = CliRun.run(models, "info", "--model", MODEL);
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("remote code"), info.out());
        assertTrue(info.out().contains("safetensors (model.safetensors)"), info.out());
        assertTrue(info.out().contains(String.format(java.util.Locale.ROOT, "%,d", expected.parameterCount())),
                info.out());
        assertTrue(info.out().contains("F32 ("), info.out());
        assertTrue(info.out().contains("num_beams 3"), info.out());
        assertTrue(info.out().contains("this cpu:     oneDNN ISA " + Dnnl.cpuIsaName(Dnnl.getEffectiveCpuIsa())),
                info.out());
        // The test JVM has the module (florence2j.jvmFlags); the launcher's has not (version-test.sh).
        assertTrue(info.out().contains(" cores, Java Vector API on\n"), info.out());
    }

    @Test
    void convertWritesAFolderThatRunsAndInfoReads() {
        Path converted = temp.resolve("bf16");
        CliRun.Result convert = CliRun.run(models, "convert", "--model", MODEL, "--out", converted.toString(),
                "--dtype", "bf16");
        assertEquals(0, convert.code(), convert.err());
        assertTrue(Files.isRegularFile(converted.resolve("model.safetensors")), convert.out());
        ModelConverter.ModelInfo info = ModelConverter.describe(converted);
        assertEquals(java.util.Set.of(DType.BF16), info.dtypeHistogram().keySet());
        CliRun.Result again = CliRun.run(models, "convert", "--model", MODEL, "--out", converted.toString());
        assertEquals(ExitCodes.BAD_MODEL, again.code(), "refuses to overwrite without --force: " + again.err());
    }

    @Test
    void drawWritesTheImageWithIndexedNamesForSeveralImages() throws IOException {
        Path out = temp.resolve("drawn.png");
        String shapes = ROOT.resolve("images/checker_shapes_200x150.png").toString();
        String small = ROOT.resolve("images/small_37x29.png").toString();
        CliRun.Result run = CliRun.run(models, "run", "--model", MODEL, "--task", "od", "--num-beams", "1",
                "--max-new-tokens", "24", "--json", "--draw", out.toString(), shapes, small);
        assertEquals(0, run.code(), run.err());
        assertEquals(2, run.out().lines().count(), run.out());
        BufferedImage first = ImageIO.read(temp.resolve("drawn-0.png").toFile());
        BufferedImage second = ImageIO.read(temp.resolve("drawn-1.png").toFile());
        assertEquals(200, first.getWidth());
        assertEquals(150, first.getHeight());
        assertEquals(37, second.getWidth());
    }

    /**
     * {@code --prompt} naming a task runs that task ({@code --task} and {@code --text}'s output, line for line);
     * one naming none is sent as it is and answered as text; it cannot be mixed with {@code --task} or {@code --text}.
     */
    @Test
    void promptRunsAsTheReferenceReadsIt() throws IOException {
        String image = ROOT.resolve("images/small_37x29.png").toString();
        CliRun.Result byTask = CliRun.run(models, "run", "--model", MODEL, "--json", "--max-new-tokens", "8",
                "--task", "CAPTION_TO_PHRASE_GROUNDING", "--text", "a red ball", image);
        CliRun.Result byPrompt = CliRun.run(models, "run", "--model", MODEL, "--json", "--max-new-tokens", "8",
                "--prompt", "<CAPTION_TO_PHRASE_GROUNDING>a red ball", image);
        assertEquals(0, byPrompt.code(), byPrompt.err());
        assertEquals(withoutTimings(byTask.out()), withoutTimings(byPrompt.out()));

        String own = "<DocVQA>What is the total?";
        CliRun.Result free = CliRun.run(models, "run", "--model", MODEL, "--json", "--max-new-tokens", "8",
                "--prompt", own, image);
        assertEquals(0, free.code(), free.err());
        JsonNode line = JSON.readTree(free.out());
        assertTrue(line.get("task").isNull(), free.out());
        assertEquals(own, line.get("prompt").asText());
        assertEquals(own, line.get("constructed_prompt").asText());
        String answer = line.get("text").asText().replace("<s>", "").replace("</s>", "");
        assertEquals(answer, line.get("result").get(own).asText());

        CliRun.Result plain = CliRun.run(models, "run", "--model", MODEL, "--max-new-tokens", "8", "--prompt", own,
                image);
        assertEquals(0, plain.code(), plain.err());
        assertTrue(plain.out().contains(own), plain.out());

        for (String[] mixed : new String[][] {{"--task", "OD"}, {"--text", "a dog"}}) {
            CliRun.Result refused = CliRun.run(models, "run", "--model", MODEL, "--prompt", own, mixed[0], mixed[1],
                    image);
            assertEquals(ExitCodes.USAGE, refused.code(), refused.err());
            assertTrue(refused.err().contains("--prompt replaces --task and --text"), refused.err());
        }
        CliRun.Result notWhole = CliRun.run(models, "run", "--model", MODEL, "--prompt", "find <OD>", image);
        assertEquals(ExitCodes.BAD_INPUT, notWhole.code(), notWhole.err());
    }

    /**
     * {@code --early-stopping} reaches beam search, in any case, on a model where the mode decides the output;
     * without it the config's mode ({@code true} here) runs.
     */
    @Test
    void earlyStoppingOverridesTheConfigs() throws IOException {
        String model = TinyModelFolder.whereEarlyStoppingDecides(temp, EarlyStopping.TRUE).toString();
        JsonNode configured = generatedIds(model);
        JsonNode notEarly = generatedIds(model, "--early-stopping", "false");
        assertNotEquals(configured, notEarly);
        assertEquals(configured, generatedIds(model, "--early-stopping", "true"));
        assertEquals(notEarly, generatedIds(model, "--early-stopping", "False"));
        assertEquals(notEarly, generatedIds(model, "--early-stopping", "never"), "the same as false on this model");
    }

    /** {@code generated_ids} of {@code run --json} on one image with 3 beams and 20 new tokens. */
    private static JsonNode generatedIds(String model, String... options) throws IOException {
        List<String> args = new ArrayList<>(List.of("run", "--model", model, "--json", "--num-beams", "3",
                "--max-new-tokens", "20"));
        args.addAll(List.of(options));
        args.add(ROOT.resolve("images/gradient_160x160.png").toString());
        CliRun.Result run = CliRun.run(models, args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        return JSON.readTree(run.out()).get("generated_ids");
    }

    private static JsonNode withoutTimings(String jsonLine) throws IOException {
        com.fasterxml.jackson.databind.node.ObjectNode node =
                (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(jsonLine);
        node.remove("timings_ms");
        return node;
    }

    @Test
    void taskSpellingsAreAccepted() {
        for (String spelling : new String[] {"<CAPTION>", "CAPTION", "caption", "<caption>"}) {
            assertEquals(org.florence2j.Task.CAPTION, RunCommand.parseTask(spelling), spelling);
        }
    }

    /**
     * With stdout and stderr on one terminal, each result starts a line of its own: the bar is wiped before a result
     * is printed, as before a message, and redrawn after it.
     */
    @Test
    void resultsDoNotContinueTheProgressBarsLine(@TempDir Path temp) throws IOException {
        String first = ROOT.resolve("images/small_37x29.png").toString();
        String second = ROOT.resolve("images/gradient_160x160.png").toString();
        String third = Files.writeString(temp.resolve("corrupt.png"), "not a PNG").toString();
        CliRun.Result run = CliRun.runOnOneTerminal(models, "run", "--model", MODEL, "--num-beams", "1",
                "--max-new-tokens", "3", first, second, third, first);
        assertEquals(ExitCodes.BAD_INPUT, run.code(), run.out());
        assertTrue(run.out().contains("] 2/4 "), "the bar is drawn: " + run.out());
        int results = 0;
        for (String line : new String[] {first + " (37x29)", second + " (160x160)", "florence2 run: image file"}) {
            for (int at = run.out().indexOf(line); at >= 0; at = run.out().indexOf(line, at + 1)) {
                String before = run.out().substring(0, at);
                assertTrue(before.isEmpty() || before.endsWith("\n") || before.endsWith("\r\u001b[K"),
                        "'" + line + "' starts a clean line: " + run.out());
                results++;
            }
        }
        assertEquals(4, results, run.out());
        assertTrue(run.out().endsWith("small_37x29.png\u001b[K\n"), "the bar's last state ends its line: " + run.out());
    }

    /**
     * Whether stderr is a terminal is asked (through the C library, from the launcher) only by a run of several
     * images, which may draw the bar: not by a single image's run, help, info or tokenize.
     */
    @Test
    void onlyARunOfSeveralImagesAsksWhetherStderrIsATerminal() {
        String image = ROOT.resolve("images/small_37x29.png").toString();
        int[] asked = {0};
        BooleanSupplier terminal = () -> {
            asked[0]++;
            return false;
        };
        List<String[]> notAsking = List.of(new String[] {"--help"}, new String[] {"info", "--model", MODEL},
                new String[] {"tokenize", "--model", MODEL, "a cat"},
                new String[] {"run", "--model", MODEL, "--num-beams", "1", "--max-new-tokens", "2", image});
        for (String[] args : notAsking) {
            StringWriter out = new StringWriter();
            assertEquals(0, Florence2Command.execute(models, new PrintWriter(out), new PrintWriter(new StringWriter()),
                    terminal, args), String.join(" ", args));
            assertEquals(0, asked[0], String.join(" ", args));
        }
        Florence2Command.execute(models, new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                terminal, "run", "--model", MODEL, "--num-beams", "1", "--max-new-tokens", "2", image, image);
        assertEquals(1, asked[0], "a run of two images asks once");
    }
}
