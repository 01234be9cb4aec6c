package org.florence2j;

import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.image.ImageLoader;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;

/**
 * How a model is loaded: where it computes, in which dtype, with how many threads, which images it accepts, how many
 * calls it takes at once, and how many images the engine may batch from calls waiting together.
 *
 * @param device             where the math runs ({@link Device#cpu()} by default)
 * @param dtype              the compute dtype; {@link DType#F32} by default. {@link DType#BF16} makes the CPU backend
 *                           run its matmuls and the vision tower's strided convolutions after the first in bf16 with
 *                           f32 accumulation (the first, on the image, and the depthwise ones stay F32);
 *                           {@link DType#F16} has no CPU kernels and runs in F32 there. On CUDA, F16 and BF16 keep
 *                           the linear layers' weights in that type and run their GEMMs on tensor cores with f32
 *                           accumulation; everything else stays F32. Weights stored in another float dtype (F16,
 *                           BF16) are converted once at load; F64 ones are refused (the {@code convert} command
 *                           narrows them)
 * @param threads            CPU threads each op may use, at most {@link CpuBackend#MAX_THREADS}; 0 means every core
 *                           (or {@code OMP_NUM_THREADS})
 * @param bf16Decoder        on the CPU in F32 only: packs the weights a decode step streams (the decoder's
 *                           self-attention, cross-attention query and output, feed-forward and LM head) in bf16 and
 *                           runs those products as {@link DType#BF16} does (the input rounded to bf16, f32
 *                           accumulation), while the vision tower, the encoder and the cross-attention keys and
 *                           values stay F32. For CPUs where {@link DType#BF16} slows the compute-bound tower (bf16
 *                           only through AVX-512 dot products that run slower than the F32 FMAs, as on the README's
 *                           Intel Xeon with AMX hidden, {@code avx512_core_fp16}) while a memory-bound decode step
 *                           still gains from reading half the bytes. {@code false} by default; with another dtype or
 *                           device it is refused, so {@link #withDtype} or {@link #withDevice} away from F32 on the
 *                           CPU throws until it is {@code false}
 * @param maxImagePixels     images with more pixels are refused before their pixels are decoded
 * @param maxConcurrentCalls calls of {@link Florence2#run} and {@link Florence2#runBatch} on this model in progress
 *                           at once, from the call (before its images are decoded) until it returns: the one the
 *                           engine runs, those waiting for it, and those decoding their images or parsing their
 *                           output on their callers' threads. A {@code runBatch} counts as one call, however many
 *                           images it holds. One more is refused at once with a {@link RequestRejectedException}, so
 *                           that a service past its capacity sheds load instead of queueing calls, each holding its
 *                           pixel values (7 MB for one 768 × 768 image in F32), until memory runs out. The limit is
 *                           this model's own: the engine it waits for serves every model on its device.
 *                           {@link Integer#MAX_VALUE} by default: no limit
 * @param maxCoalescedImages images the engine may run in one batch made of calls that wait for it at the same time:
 *                           when it takes up a call of {@link Florence2#run} or {@link Florence2#runBatch}, it adds
 *                           the later calls already waiting that have the same generation options (beams, new
 *                           tokens, early stopping) and preprocessed image size, in their order of arrival, up to
 *                           this many images in all (a single {@code runBatch} of more runs whole, alone), and runs
 *                           them as one {@code runBatch}. A call never waits for others to arrive: one that finds the
 *                           engine idle runs at once. A decode step streams the same weights for every row, so long
 *                           outputs gain (four callers of base F32 {@code <OD>} of 128 tokens on two
 *                           cores: 1.17–1.30× the calls per second with 4), while short ones, whose time is the
 *                           compute-bound vision tower, do not (captions of 20 tokens: the same rate, and each
 *                           call's latency ~10 % longer on average). Each call's output is the one it gets alone
 *                           (see {@link Florence2}'s batches). A call stopped while its batch runs returns once the
 *                           engine has copied its pixels and handed its listener any token in flight, while the batch
 *                           goes on for the others; a listener's exception ends its own call only.
 *                           Calls with {@link org.florence2j.model.Taps} run alone, and so do calls whose new tokens
 *                           could pass the decoder's learned positions (where one may fail; with the default 1024
 *                           new tokens, every call of a model with fewer positions than that). The model's buffers
 *                           grow to the largest batch it has run (base F32, batches of up to 4 {@code <OD>} calls:
 *                           peak resident memory 2.14 GB against 1.91 GB). A batch is sized against the host's
 *                           memory; on a GPU its device memory is not checked beforehand. A batch that runs out of
 *                           it before its images are encoded (its buffers) runs each of its calls alone instead, and
 *                           the model's later batches hold at most one image fewer than it did, for the model's
 *                           lifetime; one that runs out later fails every call in it.
 *                           1 by default: every call runs alone
 */
public record Florence2Options(Device device, DType dtype, int threads, boolean bf16Decoder, long maxImagePixels,
        int maxConcurrentCalls, int maxCoalescedImages) {
    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException when a value is missing or out of its range, or bf16Decoder is asked for
     *                                  other than F32 on the CPU
     */
    public Florence2Options {
        if (device == null || dtype == null) {
            throw new IllegalArgumentException("Florence2Options: device and dtype are required");
        }
        if (!dtype.isFloatingPoint() || dtype == DType.F64) {
            throw new IllegalArgumentException("Florence2Options: dtype must be F32, BF16 or F16, got " + dtype);
        }
        if (threads < 0 || threads > CpuBackend.MAX_THREADS) {
            throw new IllegalArgumentException("Florence2Options: threads must be 0 to " + CpuBackend.MAX_THREADS
                    + ", got " + threads);
        }
        if (bf16Decoder && (dtype != DType.F32 || !device.isHost())) {
            throw new IllegalArgumentException("Florence2Options: bf16Decoder needs dtype F32 on the CPU, got "
                    + dtype + " on " + device);
        }
        if (maxImagePixels < 1) {
            throw new IllegalArgumentException("Florence2Options: maxImagePixels must be positive");
        }
        if (maxConcurrentCalls < 1) {
            throw new IllegalArgumentException("Florence2Options: maxConcurrentCalls must be at least 1, got "
                    + maxConcurrentCalls);
        }
        if (maxCoalescedImages < 1) {
            throw new IllegalArgumentException("Florence2Options: maxCoalescedImages must be at least 1, got "
                    + maxCoalescedImages);
        }
    }

    /**
     * CPU, F32 throughout, every core, 64-megapixel images at most, no limit on concurrent calls, each call run
     * alone.
     */
    public static Florence2Options defaults() {
        return new Florence2Options(Device.cpu(), DType.F32, 0, false, ImageLoader.DEFAULT_MAX_PIXELS,
                Integer.MAX_VALUE, 1);
    }

    /** Runs on {@code newDevice} (see {@link #device}). */
    public Florence2Options withDevice(Device newDevice) {
        return new Florence2Options(newDevice, dtype, threads, bf16Decoder, maxImagePixels, maxConcurrentCalls,
                maxCoalescedImages);
    }

    /** Computes in {@code newDtype} (see {@link #dtype}). */
    public Florence2Options withDtype(DType newDtype) {
        return new Florence2Options(device, newDtype, threads, bf16Decoder, maxImagePixels, maxConcurrentCalls,
                maxCoalescedImages);
    }

    /** Uses {@code newThreads} threads per op on the CPU (see {@link #threads}). */
    public Florence2Options withThreads(int newThreads) {
        return new Florence2Options(device, dtype, newThreads, bf16Decoder, maxImagePixels, maxConcurrentCalls,
                maxCoalescedImages);
    }

    /**
     * Packs the decoder's per-step weights in bf16 on an F32 CPU model (see {@link #bf16Decoder}).
     *
     * @throws IllegalArgumentException when {@code newBf16Decoder} is true and the options are not F32 on the CPU
     */
    public Florence2Options withBf16Decoder(boolean newBf16Decoder) {
        return new Florence2Options(device, dtype, threads, newBf16Decoder, maxImagePixels, maxConcurrentCalls,
                maxCoalescedImages);
    }

    /** Refuses images of more than {@code newMaxImagePixels} pixels (see {@link #maxImagePixels}). */
    public Florence2Options withMaxImagePixels(long newMaxImagePixels) {
        return new Florence2Options(device, dtype, threads, bf16Decoder, newMaxImagePixels, maxConcurrentCalls,
                maxCoalescedImages);
    }

    /** Refuses calls beyond {@code newMaxConcurrentCalls} in progress at once (see {@link #maxConcurrentCalls}). */
    public Florence2Options withMaxConcurrentCalls(int newMaxConcurrentCalls) {
        return new Florence2Options(device, dtype, threads, bf16Decoder, maxImagePixels, newMaxConcurrentCalls,
                maxCoalescedImages);
    }

    /**
     * Lets the engine run calls that wait for it at the same time as one batch of up to {@code newMaxCoalescedImages}
     * images (see {@link #maxCoalescedImages}); 1 runs every call alone.
     */
    public Florence2Options withMaxCoalescedImages(int newMaxCoalescedImages) {
        return new Florence2Options(device, dtype, threads, bf16Decoder, maxImagePixels, maxConcurrentCalls,
                newMaxCoalescedImages);
    }
}
