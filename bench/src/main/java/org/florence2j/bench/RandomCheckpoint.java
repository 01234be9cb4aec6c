package org.florence2j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.florence2j.checkpoint.SafetensorsWriter;
import org.florence2j.config.ConfigReader;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.TextConfig;
import org.florence2j.config.VisionConfig;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;

/**
 * Writes a full-size Florence-2 model folder with random weights, for benchmarks: the real remote-code tensor
 * names and shapes implied by a {@code config.json} (e.g. {@code config-base.json}), the real tokenizer files
 * copied from another model folder, and a preprocessor config for 768×768 images.
 *
 * <p>Weights are N(0, 0.02) (LayerNorm weights 1 + N(0, 0.02)), seeded, so runs are repeatable; the work a
 * benchmark measures does not depend on the values as long as the number of generated tokens is fixed.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.florence2j.bench.RandomCheckpoint \
 *     CONFIG.json TOKENIZER_DIR OUT_DIR [f32|bf16|f16] [IMAGE_SIZE]
 * </pre>
 */
public final class RandomCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final List<String> TOKENIZER_FILES =
            List.of("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt");

    private RandomCheckpoint() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: RandomCheckpoint CONFIG.json TOKENIZER_DIR OUT_DIR [f32|bf16|f16] [IMAGE_SIZE]");
            System.exit(2);
        }
        DType dtype = args.length > 3 ? DType.valueOf(args[3].toUpperCase(java.util.Locale.ROOT)) : DType.F32;
        int imageSize = args.length > 4 ? Integer.parseInt(args[4]) : 768;
        write(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]), dtype, imageSize);
    }

    /** Writes the model folder {@code out}; see the class comment. */
    public static void write(Path configFile, Path tokenizerDir, Path out, DType dtype, int imageSize)
            throws IOException {
        Files.createDirectories(out);
        Florence2Config config = ConfigReader.read(configFile);
        ObjectNode root = (ObjectNode) JSON.readTree(configFile.toFile());
        root.put("torch_dtype", switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        });
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve("config.json").toFile(), root);
        for (String name : TOKENIZER_FILES) {
            Path source = tokenizerDir.resolve(name);
            if (Files.exists(source)) {
                Files.copy(source, out.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path preprocessor = tokenizerDir.resolve("preprocessor_config.json");
        if (Files.exists(preprocessor)) {
            ObjectNode processor = (ObjectNode) JSON.readTree(preprocessor.toFile());
            int tokens = imageSize / 32;
            processor.put("image_seq_length", tokens * tokens + 1);
            for (String key : List.of("size", "crop_size")) {
                ObjectNode size = processor.putObject(key);
                size.put("height", imageSize);
                size.put("width", imageSize);
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve("preprocessor_config.json").toFile(),
                    processor);
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(20240615L);
        for (Map.Entry<String, int[]> tensor : tensorShapes(config).entrySet()) {
            String name = tensor.getKey();
            boolean isNormWeight = name.endsWith("norm.weight") || name.endsWith("layer_norm.weight")
                    || name.endsWith("layernorm_embedding.weight");
            long seed = seeds.nextLong();
            entries.add(new SafetensorsWriter.Entry(name, dtype, new Shape(tensor.getValue()),
                    segment -> fill(segment, dtype, seed, isNormWeight ? 1f : 0f)));
        }
        SafetensorsWriter.write(out.resolve("model.safetensors"), entries, Map.of("format", "pt"));
    }

    /** Every tensor of the remote-code state dict that {@code save_pretrained} stores, in a stable order. */
    static Map<String, int[]> tensorShapes(Florence2Config config) {
        Map<String, int[]> shapes = new java.util.LinkedHashMap<>();
        VisionConfig vision = config.vision();
        for (int stage = 0; stage < vision.stages(); stage++) {
            int dim = vision.dimEmbed().get(stage);
            int inChannels = stage == 0 ? 3 : vision.dimEmbed().get(stage - 1);
            int kernel = vision.patchSize().get(stage);
            String conv = "vision_tower.convs." + stage + ".";
            shapes.put(conv + "proj.weight", new int[] {dim, inChannels, kernel, kernel});
            shapes.put(conv + "proj.bias", new int[] {dim});
            int normDim = vision.patchPrenorm().get(stage) ? inChannels : dim;
            shapes.put(conv + "norm.weight", new int[] {normDim});
            shapes.put(conv + "norm.bias", new int[] {normDim});
            for (int block = 0; block < vision.depths().get(stage); block++) {
                String prefix = "vision_tower.blocks." + stage + "." + block + ".";
                addDaViTBlock(shapes, prefix + "spatial_block.", "window_attn", dim, vision.mlpHidden(stage));
                addDaViTBlock(shapes, prefix + "channel_block.", "channel_attn", dim, vision.mlpHidden(stage));
            }
        }
        int projection = config.projectionDim();
        shapes.put("image_projection", new int[] {vision.lastDim(), projection});
        shapes.put("image_proj_norm.weight", new int[] {projection});
        shapes.put("image_proj_norm.bias", new int[] {projection});
        shapes.put("image_pos_embed.row_embeddings.weight",
                new int[] {vision.maxPosEmbeddings(), vision.lastDim() / 2});
        shapes.put("image_pos_embed.column_embeddings.weight",
                new int[] {vision.maxPosEmbeddings(), vision.lastDim() - vision.lastDim() / 2});
        shapes.put("visual_temporal_embed.pos_idx_to_embed",
                new int[] {vision.maxTemporalEmbeddings(), vision.lastDim()});
        TextConfig text = config.text();
        int model = text.dModel();
        shapes.put("language_model.final_logits_bias", new int[] {1, text.vocabSize()});
        shapes.put("language_model.lm_head.weight", new int[] {text.vocabSize(), model});
        shapes.put("language_model.model.shared.weight", new int[] {text.vocabSize(), model});
        for (String part : List.of("encoder", "decoder")) {
            String prefix = "language_model.model." + part + ".";
            shapes.put(prefix + "embed_positions.weight", new int[] {text.maxPositionEmbeddings() + 2, model});
            shapes.put(prefix + "layernorm_embedding.weight", new int[] {model});
            shapes.put(prefix + "layernorm_embedding.bias", new int[] {model});
            boolean decoder = part.equals("decoder");
            int layers = decoder ? text.decoderLayers() : text.encoderLayers();
            int ffn = decoder ? text.decoderFfnDim() : text.encoderFfnDim();
            for (int layer = 0; layer < layers; layer++) {
                String l = prefix + "layers." + layer + ".";
                addAttention(shapes, l + "self_attn.", model);
                addLinear(shapes, l + "self_attn_layer_norm", model, 0);
                if (decoder) {
                    addAttention(shapes, l + "encoder_attn.", model);
                    addLinear(shapes, l + "encoder_attn_layer_norm", model, 0);
                }
                addLinear(shapes, l + "fc1", ffn, model);
                addLinear(shapes, l + "fc2", model, ffn);
                addLinear(shapes, l + "final_layer_norm", model, 0);
            }
        }
        return shapes;
    }

    private static void addDaViTBlock(Map<String, int[]> shapes, String prefix, String attention, int dim,
            int hidden) {
        shapes.put(prefix + "conv1.fn.dw.weight", new int[] {dim, 1, 3, 3});
        shapes.put(prefix + "conv1.fn.dw.bias", new int[] {dim});
        addLinear(shapes, prefix + attention + ".norm", dim, 0);
        addLinear(shapes, prefix + attention + ".fn.qkv", 3 * dim, dim);
        addLinear(shapes, prefix + attention + ".fn.proj", dim, dim);
        shapes.put(prefix + "conv2.fn.dw.weight", new int[] {dim, 1, 3, 3});
        shapes.put(prefix + "conv2.fn.dw.bias", new int[] {dim});
        addLinear(shapes, prefix + "ffn.norm", dim, 0);
        addLinear(shapes, prefix + "ffn.fn.net.fc1", hidden, dim);
        addLinear(shapes, prefix + "ffn.fn.net.fc2", dim, hidden);
    }

    private static void addAttention(Map<String, int[]> shapes, String prefix, int model) {
        for (String projection : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
            addLinear(shapes, prefix + projection, model, model);
        }
    }

    /** A weight and bias; {@code inFeatures == 0} means a LayerNorm (both vectors). */
    private static void addLinear(Map<String, int[]> shapes, String prefix, int outFeatures, int inFeatures) {
        shapes.put(prefix + ".weight", inFeatures == 0 ? new int[] {outFeatures} : new int[] {outFeatures, inFeatures});
        shapes.put(prefix + ".bias", new int[] {outFeatures});
    }

    private static void fill(MemorySegment segment, DType dtype, long seed, float mean) {
        SplittableRandom random = new SplittableRandom(seed);
        long count = segment.byteSize() / dtype.byteSize();
        for (long i = 0; i < count; i++) {
            // Sum of 4 uniforms: close enough to normal for benchmark weights, and much cheaper than Gaussian.
            double noise = (random.nextDouble() + random.nextDouble() + random.nextDouble() + random.nextDouble() - 2)
                    * Math.sqrt(3) * 0.02;
            float value = (float) (mean + noise);
            switch (dtype) {
                case F32 -> segment.setAtIndex(F32_LE, i, value);
                case F16 -> segment.setAtIndex(I16_LE, i, Float.floatToFloat16(value));
                case BF16 -> segment.setAtIndex(I16_LE, i, (short) (Float.floatToRawIntBits(value) >>> 16));
                default -> throw new IllegalArgumentException("random weights need a float dtype, got " + dtype);
            }
        }
    }
}
