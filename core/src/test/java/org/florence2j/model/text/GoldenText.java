package org.florence2j.model.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.backend.cpu.CpuBackend;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.backend.ref.ReferenceBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

/**
 * The tiny golden model and its cases ({@code golden/tiny}, produced by the reference; see its README), loaded
 * once per test class and backend: the language model on a given backend, and each case's arrays.
 */
public final class GoldenText implements AutoCloseable {
    /** Names of the backends the model goldens run on (see {@link #openBackend}). */
    public static final List<String> BACKENDS = List.of("reference", "cpu", "cuda");

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;
    private final Backend backend;
    private final boolean ownsBackend;
    private final Arena arena = Arena.ofShared();
    private final SafetensorsFile checkpoint;
    private final Florence2Config config;
    private final BartModel model;
    private final JsonNode index;

    /** Loads the tiny model's language half onto {@code backend}, which the caller closes. */
    public GoldenText(Backend backend) {
        this(backend, DType.F32);
    }

    /** The text model on {@code backend} with the decoder's per-step weights uploaded for {@code stepWeights}. */
    public GoldenText(Backend backend, DType stepWeights) {
        this(backend, false, stepWeights);
    }

    private GoldenText(Backend backend, boolean ownsBackend, DType stepWeights) {
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.root = goldenRoot();
        this.config = ConfigReader.read(root.resolve("model/config.json"));
        this.checkpoint = SafetensorsFile.open(root.resolve("model/model.safetensors"));
        this.model = BartModel.load(Weights.of(checkpoint).at("language_model"), config.text(), backend, arena,
                stepWeights);
        try {
            this.index = JSON.readTree(Files.readString(root.resolve("index.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads the tiny model's language half onto a new backend called {@code name}, closed with this. */
    public static GoldenText open(String backendName) {
        return new GoldenText(openBackend(backendName), true, DType.F32);
    }

    /**
     * Opens a backend by its name in {@link #BACKENDS}: {@link ReferenceBackend}, the oracle; {@link CpuBackend} on
     * one thread (the tiny model's ops take microseconds, too little to split; on a shared 2-core runner, OpenMP
     * threads that spin at barriers made decoding 20× slower than one thread); or CUDA device 0, where the test
     * aborts with the reason when it cannot be opened ({@link #openCudaOrAbort}). Also {@code "cuda-eager"}: CUDA
     * device 0 with decode steps launched op by op instead of replayed as CUDA graphs.
     */
    public static Backend openBackend(String name) {
        return switch (name) {
            case "reference" -> new ReferenceBackend();
            case "cpu" -> new CpuBackend(1);
            case "cuda" -> openCudaOrAbort();
            case "cuda-eager" -> openCudaOrAbort(false);
            default -> throw new IllegalArgumentException("unknown backend " + name + "; expected one of " + BACKENDS
                    + " or cuda-eager");
        };
    }

    /**
     * Opens {@code cuda:0} as {@link Backends#open} does (decode steps captured as CUDA graphs unless
     * {@code -Dflorence2j.cuda.graphs=false}), or aborts the calling test with "CUDA unavailable: " and the cause
     * when no driver, library or device is present: the only skip the suite allows. Any other failure fails the
     * test.
     */
    public static Backend openCudaOrAbort() {
        try {
            return Backends.open(Device.cuda(0));
        } catch (NativeLibraryException | CudaException e) {
            return Assumptions.abort("CUDA unavailable: " + e.getMessage());
        }
    }

    /** {@link #openCudaOrAbort()} with CUDA graphs of the decode step on or off, whatever the system property says. */
    public static CudaBackend openCudaOrAbort(boolean graphs) {
        try {
            return CudaBackend.open(0, graphs);
        } catch (NativeLibraryException | CudaException e) {
            return Assumptions.abort("CUDA unavailable: " + e.getMessage());
        }
    }

    /**
     * Copies a host tensor into {@code out} on {@code backend}: {@link Backend#copy} where the host is the
     * backend's device, else through a temporary upload (a test's golden arrays live on the host).
     */
    public static void copyIn(Backend backend, Tensor out, Tensor host) {
        if (host.device().equals(backend.device())) {
            backend.copy(out, host);
            return;
        }
        try (Arena staging = Arena.ofConfined()) {
            backend.copy(out, backend.upload(host, out.dtype(), staging));
        }
    }

    /** Path of {@code golden/tiny} in the test resources. */
    public static Path goldenRoot() {
        try {
            return Path.of(GoldenText.class.getResource("/golden/tiny/index.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public Backend backend() {
        return backend;
    }

    public Florence2Config config() {
        return config;
    }

    public BartModel model() {
        return model;
    }

    public Arena arena() {
        return arena;
    }

    /** Every case of {@code index.json}, in file order. */
    public List<JsonNode> cases() {
        List<JsonNode> cases = new ArrayList<>();
        index.get("cases").forEach(cases::add);
        return cases;
    }

    /** Ids of every case, for parameterized tests. */
    public static List<String> caseIds() {
        try {
            JsonNode index = JSON.readTree(Files.readString(goldenRoot().resolve("index.json")));
            List<String> ids = new ArrayList<>();
            index.get("cases").forEach(c -> ids.add(c.get("id").asText()));
            return ids;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The case called {@code id}. */
    public JsonNode caseById(String id) {
        for (JsonNode c : index.get("cases")) {
            if (c.get("id").asText().equals(id)) {
                return c;
            }
        }
        throw new IllegalArgumentException("no golden case " + id);
    }

    /** Opens a case's arrays file; the caller closes it. */
    public SafetensorsFile arrays(JsonNode goldenCase) {
        return SafetensorsFile.open(root.resolve(goldenCase.get("arrays_file").asText()));
    }

    /** An array as ints. */
    public static int[] ints(JsonNode array) {
        int[] values = new int[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).asInt();
        }
        return values;
    }

    /** An integer tensor as ints. */
    public static int[] ints(Tensor tensor) {
        long[] values = tensor.toLongArray();
        int[] out = new int[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(values[i]);
        }
        return out;
    }

    @Override
    public void close() {
        checkpoint.close();
        arena.close();
        if (ownsBackend) {
            backend.close();
        }
    }
}
