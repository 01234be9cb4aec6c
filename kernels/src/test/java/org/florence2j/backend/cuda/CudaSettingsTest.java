package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.florence2j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The CUDA backend's settings: defaults from the system properties, withers, and refused values. Runs without a GPU. */
class CudaSettingsTest {
    @Test
    void defaultsAreAutoConvolutionsGraphsAndF32Weights() {
        CudaSettings defaults = CudaSettings.fromSystemProperties();
        assertEquals(new CudaSettings(ConvolutionPath.AUTO, true, DType.F32), defaults);
        CudaSettings changed = defaults.withConvolutions(ConvolutionPath.IM2COL).withGraphs(false)
                .withLinearWeights(DType.BF16);
        assertEquals(new CudaSettings(ConvolutionPath.IM2COL, false, DType.BF16), changed);
    }

    @Test
    void linearWeightsAreF32F16OrBf16() {
        var error = assertThrows(IllegalArgumentException.class,
                () -> new CudaSettings(ConvolutionPath.AUTO, true, DType.I32));
        assertTrue(error.getMessage().contains("F32, F16 or BF16, got I32"), error.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CudaSettings(null, true, DType.F32));
    }

    @Test
    void unknownPropertyValuesAreRefused() {
        String old = System.getProperty(CudaBackend.GRAPHS_PROPERTY);
        System.setProperty(CudaBackend.GRAPHS_PROPERTY, "sometimes");
        try {
            var error = assertThrows(IllegalArgumentException.class, CudaSettings::fromSystemProperties);
            assertTrue(error.getMessage().contains(CudaBackend.GRAPHS_PROPERTY), error.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(CudaBackend.GRAPHS_PROPERTY);
            } else {
                System.setProperty(CudaBackend.GRAPHS_PROPERTY, old);
            }
        }
    }
}
