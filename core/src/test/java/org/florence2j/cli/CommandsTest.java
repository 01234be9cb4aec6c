package org.florence2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.florence2j.Florence2;
import org.florence2j.checkpoint.ModelConverter;
import org.florence2j.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tokenize}, {@code info}, {@code convert}, {@code run --draw} and the task spellings, in-process. */
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

    @Test
    void taskSpellingsAreAccepted() {
        for (String spelling : new String[] {"<CAPTION>", "CAPTION", "caption", "<caption>"}) {
            assertEquals(org.florence2j.Task.CAPTION, RunCommand.parseTask(spelling), spelling);
        }
    }
}
