package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code -Dflorence2j.cuda.conv}: its three values, its default, and a clear error for anything else. */
class ConvolutionPathTest {
    @Test
    void propertyNamesThePathAndDefaultsToAuto() {
        String previous = System.getProperty(ConvolutionPath.PROPERTY);
        try {
            System.clearProperty(ConvolutionPath.PROPERTY);
            assertEquals(ConvolutionPath.AUTO, ConvolutionPath.fromSystemProperty());
            System.setProperty(ConvolutionPath.PROPERTY, " ");
            assertEquals(ConvolutionPath.AUTO, ConvolutionPath.fromSystemProperty());
            System.setProperty(ConvolutionPath.PROPERTY, "auto");
            assertEquals(ConvolutionPath.AUTO, ConvolutionPath.fromSystemProperty());
            System.setProperty(ConvolutionPath.PROPERTY, "cuDNN");
            assertEquals(ConvolutionPath.CUDNN, ConvolutionPath.fromSystemProperty());
            System.setProperty(ConvolutionPath.PROPERTY, "im2col ");
            assertEquals(ConvolutionPath.IM2COL, ConvolutionPath.fromSystemProperty());
            System.setProperty(ConvolutionPath.PROPERTY, "winograd");
            IllegalArgumentException error =
                    assertThrows(IllegalArgumentException.class, ConvolutionPath::fromSystemProperty);
            assertTrue(error.getMessage().contains("-Dflorence2j.cuda.conv must be auto, cudnn or im2col, got"
                    + " 'winograd'"), error.getMessage());
        } finally {
            if (previous == null) {
                System.clearProperty(ConvolutionPath.PROPERTY);
            } else {
                System.setProperty(ConvolutionPath.PROPERTY, previous);
            }
        }
    }
}
