package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import org.florence2j.InvalidInputException;
import org.florence2j.Task;
import org.junit.jupiter.api.Test;

class TaskPromptsTest {

    @Test
    void everyPromptOfIndexJsonIsConstructedExactly() {
        Set<Task> seen = EnumSet.noneOf(Task.class);
        for (JsonNode p : Golden.read("index.json").get("prompts")) {
            Task task = Task.fromToken(p.get("task").asText());
            String text = p.get("text_input").asText();
            assertEquals(p.get("prompt").asText(), task.token() + text);
            assertEquals(p.get("constructed_prompt").asText(), TaskPrompts.build(task, text), task.token());
            seen.add(task);
        }
        assertEquals(EnumSet.allOf(Task.class), seen);
    }

    /** Every golden prompt as the user typed it ({@code <TASK>text}) is read back into its task and text. */
    @Test
    void everyPromptOfIndexJsonIsParsedAsTheReferenceReadsIt() {
        for (JsonNode p : Golden.read("index.json").get("prompts")) {
            Task task = Task.fromToken(p.get("task").asText());
            TaskPrompts.Parsed parsed = TaskPrompts.parse(p.get("prompt").asText());
            assertEquals(task, parsed.task(), p.get("prompt").asText());
            assertEquals(p.get("constructed_prompt").asText(), TaskPrompts.build(parsed.task(), parsed.text()));
        }
    }

    @Test
    void aPromptIsReadAsTheReferenceReadsIt() {
        assertEquals(new TaskPrompts.Parsed(Task.OD, null), TaskPrompts.parse("<OD>"));
        // <OCR> is not a part of <OCR_WITH_REGION>: the longer token is found, not refused.
        assertEquals(new TaskPrompts.Parsed(Task.OCR_WITH_REGION, null), TaskPrompts.parse("<OCR_WITH_REGION>"));
        // The token is cut out wherever it stands, and the rest kept as it is (str.replace, no strip).
        assertEquals(new TaskPrompts.Parsed(Task.CAPTION_TO_PHRASE_GROUNDING, " a dog "),
                TaskPrompts.parse(" a dog <CAPTION_TO_PHRASE_GROUNDING>"));
        assertEquals(new TaskPrompts.Parsed(Task.OPEN_VOCABULARY_DETECTION, ""),
                TaskPrompts.parse("<OPEN_VOCABULARY_DETECTION>"));
        // No task token: a fine-tuned model's own prompt, or any text, goes to the tokenizer as it is.
        for (String own : new String[] {"<DocVQA>What is the total?", "What does the image describe?", "", "<od>"}) {
            assertEquals(new TaskPrompts.Parsed(null, own), TaskPrompts.parse(own), own);
        }
    }

    @Test
    void aTaskTokenWithoutInputMustBeTheWholePrompt() {
        String[] prompts = {"<OD> ", "find <OD>", "<CAPTION><OD>", "<OD><CAPTION_TO_PHRASE_GROUNDING>x"};
        for (String prompt : prompts) {
            var e = assertThrows(InvalidInputException.class, () -> TaskPrompts.parse(prompt), prompt);
            assertTrue(e.getMessage().contains("must be the whole prompt"), e.getMessage());
        }
    }

    @Test
    void regionTasksQuantizeAPixelBox() {
        // 640 px / 1000 bins = 0.64 px per bin: 64 px → bin 100, 128 px → 200; 480 px: 96 px → 200, 192 px → 400.
        assertEquals("What is the region <loc_100><loc_200><loc_200><loc_400>?",
                TaskPrompts.build(Task.REGION_TO_CATEGORY, new Box(64, 96, 128, 192), 640, 480));
        assertEquals("What is the polygon mask of region <loc_0><loc_0><loc_999><loc_999>",
                TaskPrompts.build(Task.REGION_TO_SEGMENTATION, new Box(-5, 0, 640, 4800), 640, 480));
    }

    @Test
    void aTaskWithoutInputRefusesText() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TaskPrompts.build(Task.CAPTION, "a dog"));
        assertTrue(e.getMessage().contains("<CAPTION>") && e.getMessage().contains("takes no text"), e.getMessage());
        assertEquals("What does the image describe?", TaskPrompts.build(Task.CAPTION, null));
        assertEquals("What does the image describe?", TaskPrompts.build(Task.CAPTION, ""));
    }

    @Test
    void aTaskWithInputRefusesNone() {
        for (String none : new String[] {null, "", "  "}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> TaskPrompts.build(Task.CAPTION_TO_PHRASE_GROUNDING, none));
            assertTrue(e.getMessage().contains("<CAPTION_TO_PHRASE_GROUNDING>")
                    && e.getMessage().contains("needs text"), e.getMessage());
        }
        InvalidInputException region = assertThrows(InvalidInputException.class,
                () -> TaskPrompts.build(Task.REGION_TO_OCR, null));
        assertTrue(region.getMessage().contains("region"), region.getMessage());
    }

    @Test
    void aRegionTaskTakesExactlyFourLocationTokens() {
        assertEquals("What is the region <loc_0><loc_20><loc_999><loc_400>?",
                TaskPrompts.build(Task.REGION_TO_CATEGORY, "<loc_0><loc_20><loc_999><loc_400>"));
        for (String bad : new String[] {"hello", "10,20,30,40", "<loc_1><loc_2><loc_3>",
                "<loc_1><loc_2><loc_3><loc_4><loc_5>", "<loc_1><loc_2><loc_3><loc_1000>",
                "<loc_01><loc_2><loc_3><loc_4>", " <loc_1><loc_2><loc_3><loc_4>", "<loc_1><loc_2><loc_3><loc_4>."}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> TaskPrompts.build(Task.REGION_TO_DESCRIPTION, bad));
            assertTrue(e.getMessage().contains("four <loc_N> tokens") && e.getMessage().contains(bad), e.getMessage());
        }
    }

    @Test
    void textHoldingATaskTokenIsRefused() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TaskPrompts.build(Task.OPEN_VOCABULARY_DETECTION, "cat <OD>"));
        assertTrue(e.getMessage().contains("<OD>"), e.getMessage());
    }

    @Test
    void aRegionForATaskWithoutRegionIsRefused() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> TaskPrompts.build(Task.OD, new Box(0, 0, 1, 1), 10, 10));
        assertTrue(e.getMessage().contains("<OD>"), e.getMessage());
    }
}
