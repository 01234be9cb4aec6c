package org.florence2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@link Session.Limits}: what it refuses, and that an image size is optional. */
class SessionLimitsTest {
    @Test
    void countsMustBePositiveAndAnImageSizeWholeOrAbsent() {
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(0, 32, 32, 3));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 0));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, 768, 0));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, -768, -768));
        var error = assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, 0, 64));
        assertEquals("session image size must be positive, or 0 x 0 when not known: 0 x 64", error.getMessage());
        Session.Limits unknown = new Session.Limits(1, 32, 32, 3);
        assertEquals(new Session.Limits(1, 32, 32, 3, 0, 0), unknown);
    }
}
