package org.florence2j.backend.cuda;

import java.util.Locale;

/**
 * How {@link CudaBackend} runs {@code conv2d} and {@code depthwiseConv3x3Residual}.
 *
 * <p>{@link CudaBackend#open(int)} takes it from the system property {@value #PROPERTY} ({@code auto}, {@code cudnn}
 * or {@code im2col}; {@code auto} when unset), the one switch that lets a deployment or a benchmark pick the path
 * without code; {@link CudaBackend#open(int, ConvolutionPath)} takes it as an argument.
 */
public enum ConvolutionPath {
    /**
     * cuDNN for the convolutions it runs faster, those with kernels larger than
     * {@value #LARGEST_IM2COL_KERNEL_ON_AUTO}×{@value #LARGEST_IM2COL_KERNEL_ON_AUTO} (DaViT's 7×7 stride-4 stem),
     * the hand-written kernels for the rest; {@link #IM2COL} throughout where libcudnn does not load or make a handle
     * (the reason is logged). At Florence-2-base's shapes on an H200 (bench/README, three machines), cuDNN ran the
     * stem 1.7–2.3× faster; the hand-written kernels ran the 3×3 stride-2 patch embeddings from 0.93× (one shape on
     * one machine) to 2.2× cuDNN's speed, and the depthwise convolutions with their residual 3.0–5.6× faster.
     */
    AUTO,
    /** cuDNN ({@code cudnnConvolutionForward}, NHWC, F32 FMA math); opening fails if libcudnn is missing. */
    CUDNN,
    /** The hand-written kernels: im2col plus one cuBLAS GEMM for {@code conv2d}, a direct depthwise kernel. */
    IM2COL;

    /** On {@link #AUTO}, the largest square kernel run as im2col plus a GEMM rather than through cuDNN. */
    public static final int LARGEST_IM2COL_KERNEL_ON_AUTO = 3;

    /** The system property read by {@link #fromSystemProperty()}. */
    public static final String PROPERTY = "florence2j.cuda.conv";

    /**
     * The path named by {@value #PROPERTY}, {@link #AUTO} when it is unset or blank.
     *
     * @throws IllegalArgumentException if it names none of {@code auto}, {@code cudnn}, {@code im2col}
     */
    public static ConvolutionPath fromSystemProperty() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            return AUTO;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "cudnn" -> CUDNN;
            case "im2col" -> IM2COL;
            default -> throw new IllegalArgumentException(
                    "-D" + PROPERTY + " must be auto, cudnn or im2col, got '" + value + "'");
        };
    }
}
