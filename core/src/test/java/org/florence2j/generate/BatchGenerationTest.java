package org.florence2j.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.model.Session;
import org.florence2j.model.text.GoldenText;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 3.7: several images with different prompts in one request give, row by row, the same ids and scores as
 * each alone. Holds because each image is encoded at its own length and decoder rows attend only to their own
 * image's encoder states (no padding is ever attended; the reference pads and attends to it).
 */
class BatchGenerationTest {
    private static final String[] CASES = {"img0_task0", "img1_task3", "img2_task10", "img3_task6", "img2_task3"};

    private static GoldenText golden;
    private static Session session;
    private static final List<SafetensorsFile> files = new ArrayList<>();

    @BeforeAll
    static void load() {
        golden = new GoldenText(new ReferenceBackend());
        session = new Session(golden.backend(), golden.model(), new Session.Limits(CASES.length, 64, 12, 3));
    }

    @AfterAll
    static void close() {
        files.forEach(SafetensorsFile::close);
        session.close();
        golden.close();
    }

    @Test
    void batchedRowsEqualEachAlone() {
        List<Tensor> embeds = new ArrayList<>();
        for (String id : CASES) {
            JsonNode goldenCase = golden.caseById(id);
            SafetensorsFile arrays = golden.arrays(goldenCase);
            files.add(arrays);
            embeds.add(arrays.tensor("encoder_inputs_embeds"));
        }
        for (int beams : new int[] {1, 3}) {
            GenerationOptions options = GenerationOptions.fromConfig(golden.config().text(), 12).withNumBeams(beams);
            GenerationResult[] batched = session.generateFromEmbeds(embeds, options);
            for (int i = 0; i < CASES.length; i++) {
                GenerationResult alone = session.generateFromEmbeds(List.of(embeds.get(i)), options)[0];
                String what = CASES[i] + " (" + beams + " beams, row " + i + " of " + CASES.length + ")";
                assertEquals(Arrays.toString(alone.sequence()), Arrays.toString(batched[i].sequence()), what);
                assertEquals(Arrays.toString(alone.transitionScores()),
                        Arrays.toString(batched[i].transitionScores()), what + " transition scores");
            }
        }
    }
}
