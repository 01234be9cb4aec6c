package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.florence2j.checkpoint.TestFiles.assertSameVisionFields;
import static org.florence2j.checkpoint.TestFiles.golden;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.florence2j.Florence2;
import org.florence2j.TinyModelFolder;
import org.florence2j.checkpoint.LoadedCheckpoint.Format;
import org.florence2j.checkpoint.LoadedCheckpoint.Layout;
import org.florence2j.checkpoint.ModelConverter.Conversion;
import org.florence2j.checkpoint.ModelConverter.ModelInfo;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.ConfigWriter;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.NativeConfigReader;
import org.florence2j.config.TextConfig;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link ModelConverter} on the three golden tiny folders (remote-code safetensors, {@code pytorch_model.bin},
 * native layout): converted to F32 each gives back the tensors of {@code golden/tiny/model/model.safetensors}
 * bit for bit, and a config that reads back equal; F16 conversion equals torch's own rounding
 * ({@code golden/tiny-bin/model-f16-torch2}), BF16 conversion is round-to-nearest-even. A native model the remote
 * code would compute differently is not converted.
 */
class ModelConverterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String BIAS = "language_model.final_logits_bias";
    private static final String LM_HEAD = "language_model.lm_head.weight";
    private static final int REMOTE_VOCAB = 51289;
    private static final int NATIVE_VOCAB = 51328;
    private static final Path TINY = golden("tiny/model");

    @TempDir
    Path dir;

    @Test
    void remoteSafetensorsConvertToTheSameTensorsAndConfig() throws IOException {
        Path out = dir.resolve("tiny");
        Conversion conversion = ModelConverter.convert(TINY, out, DType.F32);
        assertEquals(275, conversion.tensorCount());
        assertEquals(List.of(), conversion.dropped());
        assertEquals(List.of("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                "preprocessor_config.json", "generation_config.json"), conversion.copiedFiles());
        for (String name : conversion.copiedFiles()) {
            assertEquals(-1, Files.mismatch(TINY.resolve(name), out.resolve(name)), name + " is copied as is");
        }
        assertSameTensors(TINY.resolve("model.safetensors"), out.resolve("model.safetensors"));
        assertEquals(ConfigReader.read(TINY.resolve("config.json")), ConfigReader.read(out.resolve("config.json")));
        assertEquals("float32", JsonFiles.readObject(out.resolve("config.json")).path("torch_dtype").asText());
    }

    @Test
    void pytorchBinConvertsToTheSafetensorsSave() {
        Path source = golden("tiny-bin/model");
        Path out = dir.resolve("bin");
        Conversion conversion = ModelConverter.convert(source, out, DType.F32);
        assertEquals(Set.copyOf(ModelConverter.TIED_TO_SHARED), Set.copyOf(conversion.dropped()),
                "the embed_tokens aliases of shared are not written");
        assertSameTensors(TINY.resolve("model.safetensors"), out.resolve("model.safetensors"));
        assertEquals(ConfigReader.read(source.resolve("config.json")),
                ConfigReader.read(out.resolve("config.json")));
    }

    /** An {@code lm_head.weight} sharing {@code shared}'s storage (a tied model's torch.save) is not written. */
    @Test
    void lmHeadAliasOfSharedIsDropped() throws IOException {
        Path source = Files.createDirectory(dir.resolve("tied"));
        Files.copy(TINY.resolve("config.json"), source.resolve("config.json"));
        Map<String, String> storageKeyOf = new LinkedHashMap<>();
        storageKeyOf.put(ModelConverter.SHARED, "0");
        storageKeyOf.put(LM_HEAD, "0");
        storageKeyOf.put("language_model.model.encoder.embed_tokens.weight", "0");
        storageKeyOf.put(BIAS, "1");
        Map<String, long[]> sizeOf = Map.of(ModelConverter.SHARED, new long[] {3, 2}, LM_HEAD, new long[] {3, 2},
                "language_model.model.encoder.embed_tokens.weight", new long[] {3, 2}, BIAS, new long[] {1, 3});
        byte[] pickle = TestFiles.stateDict(storageKeyOf, sizeOf);
        TestFiles.write(source.resolve(Checkpoints.PYTORCH_FILE), TestFiles.torchZip(pickle,
                Map.of("0", TestFiles.floats(1, 2, 3, 4, 5, 6), "1", TestFiles.floats(7, 8, 9))));
        Path out = dir.resolve("untied");
        Conversion conversion = ModelConverter.convert(source, out, DType.F32);
        assertEquals(List.of(LM_HEAD, "language_model.model.encoder.embed_tokens.weight"), conversion.dropped());
        try (var converted = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertEquals(Set.of(ModelConverter.SHARED, BIAS), converted.names());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, converted.tensor(ModelConverter.SHARED).toFloatArray());
            assertArrayEquals(new float[] {7, 8, 9}, converted.tensor(BIAS).toFloatArray());
        }
    }

    /**
     * The native folder has no {@code final_logits_bias} and no {@code lm_head.weight}, and its {@code shared} has
     * 51328 rows: compared are the 273 remaining names, every tensor bit-identical to the remote one except
     * {@code shared}, whose first 51289 rows are; the config equals the native one (vocabulary 51328).
     */
    @Test
    void nativeLayoutConvertsToRemoteNames() {
        Path source = golden("tiny-native/model");
        Path out = dir.resolve("native");
        Conversion conversion = ModelConverter.convert(source, out, DType.F32);
        assertEquals(273, conversion.tensorCount());
        assertTrue(conversion.copiedFiles().containsAll(List.of("special_tokens_map.json", "added_tokens.json")));
        try (var converted = SafetensorsFile.open(out.resolve("model.safetensors"));
             var remote = SafetensorsFile.open(TINY.resolve("model.safetensors"))) {
            Set<String> expected = new HashSet<>(remote.names());
            expected.removeAll(Set.of(BIAS, LM_HEAD));
            assertEquals(expected, converted.names());
            for (String name : converted.names()) {
                Tensor actual = converted.tensor(name);
                Tensor want = remote.tensor(name);
                if (name.equals(ModelConverter.SHARED)) {
                    assertEquals(new Shape(NATIVE_VOCAB, 64), actual.shape());
                    actual = actual.narrow(0, REMOTE_VOCAB);
                }
                assertEquals(want.shape(), actual.shape(), name);
                assertEquals(-1, want.memory().mismatch(actual.memory()), name);
            }
        }
        Florence2Config nativeConfig;
        try (var loaded = Checkpoints.open(source)) {
            nativeConfig = loaded.config();
        }
        assertEquals(NATIVE_VOCAB, nativeConfig.text().vocabSize());
        Florence2Config converted = ConfigReader.read(out.resolve("config.json"));
        assertEquals(nativeConfig.text(), converted.text());
        assertSameVisionFields(nativeConfig.vision(), converted.vision());
        try (var reopened = Checkpoints.open(out)) {
            assertEquals(Layout.REMOTE_CODE, reopened.layout());
        }
    }

    /**
     * The ported native model N pre-normalises stage 0's image, which the remote code never does: it has no
     * remote-code config, and its conversion stops before writing anything.
     */
    @Test
    void aNativeModelTheRemoteCodeWouldComputeDifferentlyIsNotConverted() throws Exception {
        Path source = Path.of(ModelConverterTest.class.getResource("/ported/vision/N").toURI());
        Path out = dir.resolve("n");
        assertCheckpointError(() -> ModelConverter.convert(source, out, DType.F32), "config.json",
                "cannot be converted to the remote-code format", "vision_config.patch_prenorm[0] is true");
        assertFalse(Files.exists(out));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = ';', value = {"mlp_ratio; 2.0", "qkv_bias; false"})
    void aNativeMlpRatioOrQkvBiasTheRemoteCodeLacksHasNoRemoteConfig(String key, String value) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(golden("tiny-native/model/config.json").toFile());
        ((ObjectNode) root.get("vision_config")).set(key, JSON.readTree(value));
        Florence2Config config = NativeConfigReader.parse(root,
                JSON.readTree(golden("tiny-native/model/generation_config.json").toFile()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigWriter.toJson(config, DType.F32));
        assertTrue(e.getMessage().contains("vision_config.mlp_ratio " + config.vision().mlpRatio() + " and qkv_bias "
                + config.vision().qkvBias()), e.getMessage());
    }

    @Test
    void configWriterRoundTripsTheRemoteConfigs() {
        for (Path file : List.of(TINY.resolve("config.json"), golden("configs/config-base.json"),
                golden("configs/config-large.json"))) {
            Florence2Config config = ConfigReader.read(file);
            JsonNode written = ConfigWriter.toJson(config, DType.BF16);
            assertEquals(config, ConfigReader.parse(written), file.toString());
            assertEquals("bfloat16", written.path("torch_dtype").asText());
        }
    }

    /**
     * A native folder's generation settings may leave out tokens the remote config class defaults (bos 0, forced
     * EOS 2): the converted config must keep them absent, or the converted model would generate differently.
     */
    @Test
    void configWriterKeepsTheTokensANativeFolderLeavesOut() throws IOException {
        JsonNode root = JSON.readTree(golden("tiny-native/model/config.json").toFile());
        ObjectNode generation = (ObjectNode) JSON.readTree(golden("tiny-native/model/generation_config.json")
                .toFile());
        generation.remove(List.of("bos_token_id", "forced_eos_token_id"));
        TextConfig text = NativeConfigReader.parse(root, generation).text();
        assertNull(text.bosTokenId());
        assertNull(text.forcedEosTokenId());
        Florence2Config converted = ConfigReader.parse(ConfigWriter.toJson(NativeConfigReader.parse(root,
                generation), DType.F32));
        assertEquals(text, converted.text());
    }

    /** torch rounded the same float32 weights to float16 in model-f16-torch2: the conversion matches it exactly. */
    @Test
    void f16ConversionEqualsTorchRounding() {
        Path out = dir.resolve("f16");
        ModelConverter.convert(TINY, out, DType.F16);
        assertEquals("float16", JsonFiles.readObject(out.resolve("config.json")).path("torch_dtype").asText());
        try (var converted = SafetensorsFile.open(out.resolve("model.safetensors"));
             var torch = PytorchCheckpoint.open(golden("tiny-bin/model-f16-torch2/pytorch_model.bin"))) {
            assertEquals(275, converted.names().size());
            for (String name : converted.names()) {
                Tensor actual = converted.tensor(name);
                assertEquals(DType.F16, actual.dtype(), name);
                assertEquals(-1, torch.tensor(name).memory().mismatch(actual.memory()), name);
            }
        }
    }

    @Test
    void bf16ConversionRoundsToNearestEven() {
        Path out = dir.resolve("bf16");
        ModelConverter.convert(TINY, out, DType.BF16);
        try (var converted = SafetensorsFile.open(out.resolve("model.safetensors"));
             var source = SafetensorsFile.open(TINY.resolve("model.safetensors"))) {
            for (String name : source.names()) {
                Tensor actual = converted.tensor(name);
                assertEquals(DType.BF16, actual.dtype(), name);
                float[] values = source.tensor(name).toFloatArray();
                MemorySegment bits = actual.memory();
                for (int i = 0; i < values.length; i++) {
                    assertNearestEvenBFloat16(name + "[" + i + "]", values[i], bits.getAtIndex(I16_LE, i));
                }
            }
        }
    }

    @Test
    void bf16RoundingOfKnownValues() {
        assertEquals((short) 0x3F80, ModelConverter.toBFloat16(1.0f));
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
        assertEquals((short) 0x3F80, ModelConverter.toBFloat16(Float.intBitsToFloat(0x3F808000)));
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        assertEquals((short) 0x3F82, ModelConverter.toBFloat16(Float.intBitsToFloat(0x3F818000)));
        assertEquals((short) 0x3F81, ModelConverter.toBFloat16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x7F80, ModelConverter.toBFloat16(Float.MAX_VALUE), "rounds up to infinity, as torch");
        assertEquals((short) 0x7FC0, ModelConverter.toBFloat16(Float.NaN));
        assertEquals((short) 0x8000, ModelConverter.toBFloat16(-0.0f));
    }

    /** The figures of the tiny model: 275 F32 tensors whose bytes are the safetensors data section. */
    @Test
    void describeReportsTheTinyModel() throws IOException {
        long dataBytes = dataSectionBytes(TINY.resolve("model.safetensors"));
        ModelInfo tiny = ModelConverter.describe(TINY);
        assertEquals(Layout.REMOTE_CODE, tiny.layout());
        assertEquals(Format.SAFETENSORS, tiny.format());
        assertEquals(Map.of(DType.F32, 275), tiny.dtypeHistogram());
        assertEquals(275, tiny.tensorCount());
        assertEquals(dataBytes, tiny.weightBytes());
        assertEquals(dataBytes / 4, tiny.parameterCount());
        assertEquals(ConfigReader.read(TINY.resolve("config.json")), tiny.config());

        ModelInfo bin = ModelConverter.describe(golden("tiny-bin/model"));
        assertEquals(Format.PYTORCH_BIN, bin.format());
        assertEquals(277, bin.tensorCount());
        assertEquals(tiny.parameterCount(), bin.parameterCount(), "the embed_tokens aliases are counted once");
        assertEquals(tiny.weightBytes(), bin.weightBytes());

        ModelInfo nat = ModelConverter.describe(golden("tiny-native/model"));
        assertEquals(Layout.NATIVE, nat.layout());
        assertEquals(273, nat.tensorCount());
        long removed = REMOTE_VOCAB + (long) REMOTE_VOCAB * 64;
        long padding = (long) (NATIVE_VOCAB - REMOTE_VOCAB) * 64;
        assertEquals(tiny.parameterCount() - removed + padding, nat.parameterCount(),
                "no bias, no lm_head, 39 padded rows of shared");
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws IOException {
        assertCheckpointError(() -> ModelConverter.convert(TINY, TINY, DType.F32), "is the source folder");
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertCheckpointError(() -> ModelConverter.convert(TINY, file, DType.F32), "is not a folder");
        Path out = dir.resolve("out");
        ModelConverter.convert(TINY, out, DType.F16);
        assertCheckpointError(() -> ModelConverter.convert(TINY, out, DType.F32), "already holds model.safetensors");
        ModelConverter.convert(TINY, out, DType.F32, true);
        assertSameTensors(TINY.resolve("model.safetensors"), out.resolve("model.safetensors"));
        assertThrows(IllegalArgumentException.class, () -> ModelConverter.convert(TINY, out, DType.I32, true));
        assertCheckpointError(() -> ModelConverter.convert(dir.resolve("missing"), dir.resolve("x"), DType.F32),
                "is not a folder");
    }

    @Test
    void integerTensorsAreCopiedAsTheyAreAndF64IsNarrowed() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor integers = Tensor.allocateHost(DType.I32, Shape.of(64), arena);
            integers.memory().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 5, 7);
            Path source = TinyModelFolder.in(dir.resolve("i32")).replaceTensor("image_proj_norm.weight", integers)
                    .path();
            Path out = dir.resolve("out-i32");
            ModelConverter.convert(source, out, DType.BF16);
            try (var converted = SafetensorsFile.open(out.resolve("model.safetensors"))) {
                Tensor copied = converted.tensor("image_proj_norm.weight");
                assertEquals(DType.I32, copied.dtype(), "an integer tensor keeps its dtype");
                assertEquals(7, copied.memory().getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 5));
            }
            assertCheckpointError(() -> Florence2.load(out), "'image_proj_norm.weight'", "dtype I32");
            Tensor doubles = Tensor.allocateHost(DType.F64, Shape.of(64), arena);
            doubles.memory().setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 3, 0.5);
            Path wide = TinyModelFolder.in(dir.resolve("f64")).replaceTensor("image_proj_norm.weight", doubles)
                    .path();
            ModelConverter.convert(wide, dir.resolve("out-f64"), DType.F32);
            try (var converted = SafetensorsFile.open(dir.resolve("out-f64/model.safetensors"))) {
                assertEquals(DType.F32, converted.tensor("image_proj_norm.weight").dtype());
                assertEquals(0.5f, converted.tensor("image_proj_norm.weight").getFloat(3));
            }
        }
    }

    private static void assertSameTensors(Path expectedFile, Path actualFile) {
        try (var expected = SafetensorsFile.open(expectedFile); var actual = SafetensorsFile.open(actualFile)) {
            assertEquals(expected.names(), actual.names());
            for (String name : expected.names()) {
                Tensor want = expected.tensor(name);
                Tensor got = actual.tensor(name);
                assertEquals(want.dtype(), got.dtype(), name);
                assertEquals(want.shape(), got.shape(), name);
                assertEquals(-1, want.memory().mismatch(got.memory()), name + " differs");
            }
        }
    }

    /** Checks {@code bits} is the bfloat16 nearest to {@code value}, ties to the even mantissa (finite values). */
    private static void assertNearestEvenBFloat16(String where, float value, short bits) {
        int truncated = Float.floatToRawIntBits(value) >>> 16;
        float down = Float.intBitsToFloat(truncated << 16);
        float up = Float.intBitsToFloat((truncated + 1) << 16);
        double toDown = Math.abs((double) value - down);
        double toUp = Math.abs((double) up - value);
        int expected = toDown < toUp ? truncated : toUp < toDown ? truncated + 1
                : (truncated & 1) == 0 ? truncated : truncated + 1;
        if ((short) expected != bits) {
            throw new AssertionError(where + ": " + value + " rounds to bf16 0x" + Integer.toHexString(expected)
                    + " but 0x" + Integer.toHexString(bits & 0xFFFF) + " was written");
        }
    }

    private static long dataSectionBytes(Path file) throws IOException {
        long headerBytes;
        try (var channel = java.nio.channels.FileChannel.open(file)) {
            var buffer = java.nio.ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(buffer);
            headerBytes = buffer.flip().getLong();
        }
        return Files.size(file) - 8 - headerBytes;
    }
}
