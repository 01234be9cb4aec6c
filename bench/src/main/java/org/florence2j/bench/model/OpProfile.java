package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.florence2j.backend.Backend;
import org.florence2j.bench.RandomBaseFolder;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.Florence2Config;
import org.florence2j.model.ForwardContext;
import org.florence2j.model.Taps;
import org.florence2j.model.text.BartDecoder;
import org.florence2j.model.text.BartModel;
import org.florence2j.model.text.CrossGroup;
import org.florence2j.model.text.KvCache;
import org.florence2j.model.vision.DaViT;
import org.florence2j.model.vision.ImageProjector;
import org.florence2j.model.vision.VisionScratch;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Where the time goes, by backend op: runs the vision tower on a 768×768 image, the encoder on 584 tokens and 20
 * decoder steps of 3 beams through a {@link Backend} proxy that times every call, and prints each op's share.
 * Not a JMH benchmark (the proxy's timing adds a little per op): a guide for what to optimise.
 *
 * <p>It runs {@code passes} passes and times ops over the second half only: the decoder's Java kernels are compiled
 * late, 20 steps a pass, so the first passes' decoder figures are the JIT's (base F32: 648–1,296 ms for the 20 steps
 * in passes 0–2, 157–177 ms from pass 6 on). Each pass prints its stage times.
 *
 * <p>On {@code cuda} the proxy synchronises the device after every op, so an op's time is its launch and its kernels
 * rather than the moment the launch was queued; the decoder steps run op by op (not replayed as a graph), and each
 * op pays a synchronisation (some microseconds) that a real pass does not.
 *
 * <pre>
 * OMP_NUM_THREADS=1 java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector \
 *     -cp bench/target/benchmarks.jar org.florence2j.bench.model.OpProfile [passes] [f32|bf16] [cpu|cuda]
 * </pre>
 */
public final class OpProfile {
    private OpProfile() {}

    public static void main(String[] args) {
        int passes = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        if (passes < 2) {
            throw new IllegalArgumentException("passes must be at least 2 (the first half warms up): " + passes);
        }
        int warmUp = passes / 2;
        String dtype = args.length > 1 ? args[1] : "f32";
        Device device = switch (args.length > 2 ? args[2] : "cpu") {
            case "cpu" -> Device.cpu();
            case "cuda" -> Device.cuda(0);
            default -> throw new IllegalArgumentException("device must be cpu or cuda: " + args[2]);
        };
        try (LoadedCheckpoint checkpoint = Checkpoints.open(RandomBaseFolder.get(DType.F32));
                Backend real = BenchModel.backend(device, dtype);
                Arena arena = Arena.ofShared()) {
            Map<String, long[]> timings = new TreeMap<>();
            Backend backend = timed(real, timings, OpProfile::shapesKey, !device.isHost());
            Florence2Config config = checkpoint.config();
            Weights root = Weights.of(checkpoint.checkpoint());
            DaViT davit = DaViT.load(root.at("vision_tower"), config.vision(), backend, arena);
            ImageProjector projector = ImageProjector.load(root, config, backend, arena);
            BartModel text = BartModel.load(root.at("language_model"), config.text(), backend, arena);
            Tensor pixels = BenchModel.random(backend, arena, 7, Shape.of(1, 3, 768, 768));
            VisionScratch scratch = davit.newScratch(new ForwardContext(backend, arena, Taps.NONE), 1, 768, 768);
            BartDecoder decoder = text.decoder();
            int tokens = 584;
            var encoderWorkspace = text.encoder().newWorkspace(backend, arena, tokens);
            KvCache cache = KvCache.allocate(backend, arena, decoder.layerCount(), decoder.channels(),
                    decoder.heads(), 3, 21, 1, tokens);
            List<CrossGroup> groups = List.of(new CrossGroup(0, 1, tokens));
            var step = decoder.newWorkspace(backend, arena, 3, 1).prepare(3, 1, groups, 3);
            for (int r = 0; r < passes; r++) {
                if (r == warmUp) {
                    timings.clear(); // the passes before created primitives and warmed the JIT
                }
                long start = System.nanoTime();
                try (Arena request = Arena.ofShared()) {
                    ForwardContext ctx = new ForwardContext(backend, request, Taps.NONE);
                    Tensor davitOut = ctx.allocate(davit.outputShape(1, 768, 768));
                    davit.forward(ctx, pixels, davitOut, scratch);
                    Tensor features = ctx.allocate(projector.outputShape(1, davitOut.shape().dim(1)));
                    projector.forward(ctx, davitOut, davit.outputSize(768), davit.outputSize(768), features);
                }
                long vision = System.nanoTime();
                Tensor input = encoderWorkspace.input(tokens);
                Tensor states = encoderWorkspace.output(tokens);
                text.encoder().forward(backend, Taps.NONE, input, states, encoderWorkspace);
                decoder.computeCrossKeyValues(backend, states, 0, cache);
                long encoder = System.nanoTime();
                cache.prepare(3, groups);
                for (int p = 0; p < 20; p++) {
                    cache.reorder(backend, new int[] {0, 0, 1}, p);
                    for (int b = 0; b < 3; b++) {
                        step.setToken(b, 0, 4 + p);
                    }
                    decoder.forward(backend, Taps.NONE, step, cache, p);
                }
                real.synchronize();
                long end = System.nanoTime();
                System.out.printf("pass %d: vision %.0f ms, encoder+cross K/V %.0f ms, 20 decoder steps %.0f ms%n",
                        r, (vision - start) / 1e6, (encoder - vision) / 1e6, (end - encoder) / 1e6);
            }
            long total = timings.values().stream().mapToLong(t -> t[0]).sum();
            timings.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]))
                    .forEach(e -> System.out.printf("%-60s %8.1f ms/pass %5.1f%% %7d calls/pass%n", e.getKey(),
                            e.getValue()[0] / 1e6 / (passes - warmUp), 100.0 * e.getValue()[0] / total,
                            e.getValue()[1] / (passes - warmUp)));
        }
    }

    /** The shapes of the first three tensor operands after the output. */
    private static String shapesKey(Object[] args) {
        StringBuilder key = new StringBuilder();
        for (int i = 1; args != null && i < Math.min(args.length, 4); i++) {
            if (args[i] instanceof Tensor t) {
                key.append(' ').append(t.shape());
            }
        }
        return key.toString();
    }

    /**
     * {@code backend} with every call timed into {@code timings}: the op's name followed by {@code detail} of its
     * arguments (null for none) → nanos, calls.
     */
    static Backend timed(Backend backend, Map<String, long[]> timings, Function<Object[], String> detail) {
        return timed(backend, timings, detail, false);
    }

    /**
     * {@link #timed(Backend, Map, Function)} that, with {@code synchronizeEach}, waits for each op's device work
     * before stopping its clock (for a backend whose ops return once queued).
     */
    static Backend timed(Backend backend, Map<String, long[]> timings, Function<Object[], String> detail,
            boolean synchronizeEach) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    long start = System.nanoTime();
                    try {
                        return method.invoke(backend, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    } finally {
                        if (synchronizeEach) {
                            backend.synchronize();
                        }
                        String key = method.getName() + detail.apply(args);
                        long[] t = timings.computeIfAbsent(key, k -> new long[2]);
                        t[0] += System.nanoTime() - start;
                        t[1]++;
                    }
                });
    }
}
