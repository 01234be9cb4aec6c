package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import org.florence2j.task.ParseType;
import org.junit.jupiter.api.Test;

class TaskTest {

    @Test
    void everyTaskOfTheReferenceIsThereWithItsParseType() {
        Set<String> tokens = Arrays.stream(Task.values()).map(Task::token).collect(Collectors.toSet());
        assertEquals(Set.of("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>", "<OD>",
                "<DENSE_REGION_CAPTION>", "<REGION_PROPOSAL>", "<CAPTION_TO_PHRASE_GROUNDING>",
                "<REFERRING_EXPRESSION_SEGMENTATION>", "<REGION_TO_SEGMENTATION>", "<OPEN_VOCABULARY_DETECTION>",
                "<REGION_TO_CATEGORY>", "<REGION_TO_DESCRIPTION>", "<REGION_TO_OCR>", "<OCR>", "<OCR_WITH_REGION>"),
                tokens);
        assertEquals(ParseType.DESCRIPTION_WITH_BBOXES, Task.OD.parseType());
        assertEquals(ParseType.BBOXES, Task.REGION_PROPOSAL.parseType());
        assertEquals(ParseType.OCR, Task.OCR_WITH_REGION.parseType());
        assertEquals(ParseType.PURE_TEXT, Task.REGION_TO_OCR.parseType());
        assertEquals(ParseType.POLYGONS, Task.REGION_TO_SEGMENTATION.parseType());
        assertEquals(ParseType.DESCRIPTION_WITH_BBOXES_OR_POLYGONS, Task.OPEN_VOCABULARY_DETECTION.parseType());
        assertEquals(ParseType.PHRASE_GROUNDING, Task.CAPTION_TO_PHRASE_GROUNDING.parseType());
    }

    @Test
    void textAndRegionInputsAreTheReferenceTemplates() {
        long withText = Arrays.stream(Task.values()).filter(Task::takesText).count();
        assertEquals(7, withText);
        assertFalse(Task.OD.takesText());
        assertTrue(Task.CAPTION_TO_PHRASE_GROUNDING.takesText());
        Set<Task> regions = Arrays.stream(Task.values()).filter(Task::takesRegion).collect(Collectors.toSet());
        assertEquals(Set.of(Task.REGION_TO_SEGMENTATION, Task.REGION_TO_CATEGORY, Task.REGION_TO_DESCRIPTION,
                Task.REGION_TO_OCR), regions);
        assertTrue(regions.stream().allMatch(Task::takesText));
    }

    @Test
    void fromTokenFindsEveryTask() {
        for (Task task : Task.values()) {
            assertEquals(task, Task.fromToken(task.token()));
        }
    }

    @Test
    void unknownTaskNamesItAndListsTheValidOnes() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Task.fromToken("<DETECT>"));
        assertTrue(e.getMessage().contains("'<DETECT>'"), e.getMessage());
        for (Task task : Task.values()) {
            assertTrue(e.getMessage().contains(task.token()), e.getMessage());
        }
        assertThrows(InvalidInputException.class, () -> Task.fromToken("OD"));
        assertThrows(InvalidInputException.class, () -> Task.fromToken(null));
    }
}
