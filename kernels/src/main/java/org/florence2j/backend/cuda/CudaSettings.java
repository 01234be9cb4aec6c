package org.florence2j.backend.cuda;

import java.util.Set;
import org.florence2j.tensor.DType;

/**
 * How a {@link CudaBackend} computes.
 *
 * @param convolutions  how {@code conv2d} and {@code depthwiseConv3x3Residual} run
 * @param graphs        whether decode steps are captured as CUDA graphs and replayed ({@link CudaBackend#newStepGraph})
 * @param linearWeights the type {@link CudaBackend#uploadLinearWeight} keeps linear weights in on the device:
 *                      {@link DType#F32}, or {@link DType#F16} / {@link DType#BF16}, which halves their memory and
 *                      runs every linear layer's GEMM on tensor cores with F32 accumulation (its F32 input is
 *                      converted to the weights' type first); activations, normalisation, softmax and attention
 *                      stay F32
 */
public record CudaSettings(ConvolutionPath convolutions, boolean graphs, DType linearWeights) {
    private static final Set<DType> LINEAR_WEIGHT_TYPES = Set.of(DType.F32, DType.F16, DType.BF16);

    public CudaSettings {
        if (convolutions == null || linearWeights == null) {
            throw new IllegalArgumentException("CudaSettings: convolutions and linearWeights are required");
        }
        if (!LINEAR_WEIGHT_TYPES.contains(linearWeights)) {
            throw new IllegalArgumentException("CudaSettings: linear weights must be F32, F16 or BF16, got "
                    + linearWeights);
        }
    }

    /**
     * The convolution path of {@code -D}{@value ConvolutionPath#PROPERTY}, graphs as
     * {@code -D}{@value CudaBackend#GRAPHS_PROPERTY} says (on when unset), F32 linear weights.
     *
     * @throws IllegalArgumentException if either property has a value it does not know
     */
    public static CudaSettings fromSystemProperties() {
        return new CudaSettings(ConvolutionPath.fromSystemProperty(),
                CudaBackend.graphsEnabled(System.getProperty(CudaBackend.GRAPHS_PROPERTY)), DType.F32);
    }

    public CudaSettings withConvolutions(ConvolutionPath newConvolutions) {
        return new CudaSettings(newConvolutions, graphs, linearWeights);
    }

    public CudaSettings withGraphs(boolean newGraphs) {
        return new CudaSettings(convolutions, newGraphs, linearWeights);
    }

    public CudaSettings withLinearWeights(DType newLinearWeights) {
        return new CudaSettings(convolutions, graphs, newLinearWeights);
    }
}
