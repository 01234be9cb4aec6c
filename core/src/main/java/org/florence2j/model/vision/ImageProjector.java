package org.florence2j.model.vision;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.Weights;
import org.florence2j.config.Florence2Config;
import org.florence2j.config.VisionConfig;
import org.florence2j.config.VisionConfig.Implementation;
import org.florence2j.model.ForwardContext;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * From DaViT's tokens to the image features the language model reads: the second half of the reference's
 * {@code Florence2ForConditionalGeneration._encode_image}. It adds the learned 2-D position embedding
 * ({@code LearnedAbsolutePositionEmbedding2D}) and row 0 of the cosine temporal embedding
 * ({@code PositionalEmbeddingCosine1D}, one frame), gathers the configured {@code image_feature_source} pieces
 * (Florence-2: the spatial mean token, then every token), multiplies by {@code image_projection} (no bias) and applies
 * {@code image_proj_norm}.
 *
 * <p>Input {@code [batch, height·width, dim_embed[-1]]}; output {@code [batch, tokenCount(height·width),
 * projection_dim]} (577 × 768 for Florence-2-base at 768 pixels). Where the two references differ: the remote code
 * views the tokens as a square of side {@code int(tokens ** 0.5)} and asserts that they fill it, whatever the map's
 * own height and width (a 2 × 8 map is placed as 4 × 4); transformers' native {@code Florence2MultiModalProjector}
 * takes the map's height and width. Taps {@code image_features}.
 */
public final class ImageProjector {
    private final Tensor columnEmbeddings; // [max_pos_embeddings, channels / 2], indexed by x
    private final Tensor rowEmbeddings;    // [max_pos_embeddings, channels / 2], indexed by y
    private final Tensor temporalEmbedding; // [channels]: row 0 of pos_idx_to_embed
    private final Tensor imageProjection;  // [1, channels, projection_dim]
    private final LayerNorm imageProjNorm;
    private final List<FeatureSource> featureSources;
    private final Implementation implementation;
    private final int maxPositions;
    private final int channels;
    private final int projectionDim;

    /** The reference's {@code x_feat_dict} keys, for one frame. */
    private enum FeatureSource {
        /** {@code spatial_avg_pool}: the mean over tokens, one token. */
        SPATIAL_AVG_POOL,
        /** {@code temporal_avg_pool}: the mean over the one frame, i.e. every token. */
        TEMPORAL_AVG_POOL,
        /** {@code last_frame}: every token of the one frame. */
        LAST_FRAME;

        /** The source {@code name}, one of {@link VisionConfig#FEATURE_SOURCES} (the config checked it). */
        static FeatureSource of(String name) {
            return valueOf(name.toUpperCase(Locale.ROOT));
        }

        int tokens(int gridTokens) {
            return this == SPATIAL_AVG_POOL ? 1 : gridTokens;
        }
    }

    private ImageProjector(Tensor columnEmbeddings, Tensor rowEmbeddings, Tensor temporalEmbedding,
            Tensor imageProjection, LayerNorm imageProjNorm, List<FeatureSource> featureSources,
            Implementation implementation, int maxPositions, int channels, int projectionDim) {
        this.columnEmbeddings = columnEmbeddings;
        this.rowEmbeddings = rowEmbeddings;
        this.temporalEmbedding = temporalEmbedding;
        this.imageProjection = imageProjection;
        this.imageProjNorm = imageProjNorm;
        this.featureSources = featureSources;
        this.implementation = implementation;
        this.maxPositions = maxPositions;
        this.channels = channels;
        this.projectionDim = projectionDim;
    }

    /**
     * Loads {@code image_pos_embed.*}, {@code visual_temporal_embed.pos_idx_to_embed}, {@code image_projection} and
     * {@code image_proj_norm.*} from the checkpoint's root view.
     *
     * @throws CheckpointException naming the tensor (and both shapes) when one is missing or disagrees with
     *                             {@code config}, or when the config asks for what this engine does not do
     */
    public static ImageProjector load(Weights root, Florence2Config config, Backend backend, Arena owner) {
        VisionConfig vision = config.vision();
        int channels = vision.lastDim();
        int projectionDim = vision.projectionDim();
        int maxPositions = vision.maxPosEmbeddings();
        Weights posEmbed = root.at("image_pos_embed");
        if (channels % 2 != 0) {
            // The 2-D table is concat(column[x], row[y]) built as two equal halves; the reference allows odd widths
            // (column gets the extra channel) but no Florence-2 has one.
            throw new CheckpointException(root.checkpoint().fileOf(posEmbed.fullName("row_embeddings.weight")),
                    posEmbed.fullName("row_embeddings.weight"), -1, "needs an even dim_embed[-1], got " + channels);
        }
        List<FeatureSource> sources = vision.imageFeatureSource().stream().map(FeatureSource::of).toList();
        return new ImageProjector(
                Upload.f32(posEmbed.at("column_embeddings"), "weight", backend, owner, maxPositions, channels / 2),
                Upload.f32(posEmbed.at("row_embeddings"), "weight", backend, owner, maxPositions, channels / 2),
                temporalRowZero(root.at("visual_temporal_embed"), vision, backend, owner),
                backend.upload(root.tensor("image_projection", channels, projectionDim)
                        .reshape(Shape.of(1, channels, projectionDim)), DType.F32, owner),
                LayerNorm.load(root.at("image_proj_norm"), projectionDim, backend, owner),
                sources, vision.implementation(), maxPositions, channels, projectionDim);
    }

    /**
     * Row 0 of the cosine table: with one frame, the reference adds only that row to every token. The table is a
     * buffer computed from a formula; row 0 is {@code [sin 0, cos 0, …] = [0, 1, 0, 1, …]} whenever the
     * checkpoint omits it.
     */
    private static Tensor temporalRowZero(Weights w, VisionConfig vision, Backend backend, Arena owner) {
        int channels = vision.lastDim();
        Optional<Tensor> stored = w.find("pos_idx_to_embed");
        if (stored.isPresent()) {
            Tensor table = w.tensor("pos_idx_to_embed", vision.maxTemporalEmbeddings(), channels);
            return backend.upload(table.narrow(0, 1).reshape(Shape.of(channels)), DType.F32,
                    owner);
        }
        float[] row = new float[channels];
        for (int i = 1; i < channels; i += 2) {
            row[i] = 1f;
        }
        try (Arena staging = Arena.ofConfined()) {
            return backend.upload(Tensor.ofFloats(Shape.of(channels), staging, row), DType.F32,
                    owner);
        }
    }

    /** Image tokens produced for a feature map of {@code gridTokens} tokens (577 for 576 with Florence-2). */
    public int tokenCount(int gridTokens) {
        int count = 0;
        for (FeatureSource source : featureSources) {
            count += source.tokens(gridTokens);
        }
        return count;
    }

    /** The output shape {@code [batch, tokenCount(gridTokens), projection_dim]}. */
    public Shape outputShape(int batch, int gridTokens) {
        return Shape.of(batch, tokenCount(gridTokens), projectionDim);
    }

    /**
     * How the position embedding lays out a feature map's tokens.
     *
     * @param rows    rows, each looked up in {@code row_embeddings}
     * @param columns columns, each looked up in {@code column_embeddings}
     */
    public record PositionLayout(long rows, long columns) {}

    /**
     * The layout the reference gives a {@code height × width} feature map. The remote code's {@code _encode_image}
     * views the tokens as a square of side {@code int(tokens ** 0.5)} and asserts that they fill it, so a map whose
     * token count is not a square is refused and a 2 × 8 map is placed as 4 × 4; the native projector keeps the map's
     * own rows and columns. Either way each side must be at most the tables' {@code maxPosEmbeddings} rows.
     */
    public PositionLayout positionLayout(long height, long width) {
        if (implementation == Implementation.NATIVE) {
            return new PositionLayout(height, width);
        }
        long side = (long) Math.sqrt((double) (height * width));
        return new PositionLayout(side, side);
    }

    /**
     * Projects DaViT's tokens; scratch comes from {@code ctx}'s arena.
     *
     * @param davitOut      {@code [batch, height·width, dim_embed[-1]]}, left unchanged
     * @param height        rows of the feature map ({@link DaViT#outputSize} of the image's)
     * @param width         columns of the feature map
     * @param imageFeatures {@link #outputShape}{@code (batch, height·width)}
     * @throws IllegalArgumentException when the reference would refuse the map ({@link #positionLayout}) or a
     *                                  shape does not fit
     */
    public void forward(ForwardContext ctx, Tensor davitOut, int height, int width, Tensor imageFeatures) {
        Backend backend = ctx.backend();
        Shape in = davitOut.shape();
        PositionLayout layout = positionLayout(height, width);
        if (in.rank() != 3 || in.last() != channels || in.dim(1) != (long) height * width
                || layout.rows() * layout.columns() != in.dim(1) || layout.rows() > maxPositions
                || layout.columns() > maxPositions) {
            throw new IllegalArgumentException("ImageProjector.forward: input " + in + " must be [batch, " + height
                    + "·" + width + ", " + channels + "], laid out as " + layout + " with at most " + maxPositions
                    + " rows and columns (the remote code needs a square number of tokens)");
        }
        int batch = in.dim(0);
        int gridTokens = in.dim(1);
        if (!imageFeatures.shape().equals(outputShape(batch, gridTokens))) {
            throw new IllegalArgumentException("ImageProjector.forward: output " + imageFeatures.shape()
                    + " must be " + outputShape(batch, gridTokens) + " for input " + in);
        }
        Tensor x = ctx.allocate(in); // [batch, tokens, channels]
        backend.add(x, davitOut, positionEmbedding(ctx, (int) layout.rows(), (int) layout.columns()));
        backend.add(x, x, temporalEmbedding);
        Tensor features = gather(ctx, x); // [batch, tokenCount, channels]
        backend.matmul(imageFeatures, features, imageProjection);
        imageProjNorm.forward(ctx, imageFeatures, imageFeatures);
        ctx.tap("image_features", imageFeatures);
    }

    /**
     * LearnedAbsolutePositionEmbedding2D: token {@code (y, x)} of a {@code rows × columns} layout gets
     * {@code concat(column[x], row[y])}, column half first. Returns {@code [rows·columns, channels]}.
     */
    private Tensor positionEmbedding(ForwardContext ctx, int rows, int columns) {
        Backend backend = ctx.backend();
        int tokens = rows * columns;
        int half = channels / 2;
        int[] xs = new int[tokens];
        int[] ys = new int[tokens];
        for (int t = 0; t < tokens; t++) {
            xs[t] = t % columns;
            ys[t] = t / columns;
        }
        Tensor columnHalves = ctx.allocate(Shape.of(1, tokens, half)); // [1, tokens, half]: column[x]
        Tensor rowHalves = ctx.allocate(Shape.of(1, tokens, half));    // [1, tokens, half]: row[y]
        backend.embedding(columnHalves, columnEmbeddings, Tensor.ofInts(Shape.of(1, tokens), ctx.arena(), xs));
        backend.embedding(rowHalves, rowEmbeddings, Tensor.ofInts(Shape.of(1, tokens), ctx.arena(), ys));
        // A channel concat of two halves is a token concat with each token as its own batch row.
        Shape perToken = Shape.of(tokens, 1, half);
        Tensor table = ctx.allocate(Shape.of(tokens, 2, half)); // [tokens, 2, half] = [tokens, channels]
        backend.concatTokens(table, columnHalves.reshape(perToken), rowHalves.reshape(perToken));
        return table.reshape(Shape.of(tokens, channels));
    }

    /** Concatenates the configured feature sources along tokens, mean token first for Florence-2. */
    private Tensor gather(ForwardContext ctx, Tensor x) {
        Backend backend = ctx.backend();
        int batch = x.shape().dim(0);
        Tensor gathered = null;
        for (FeatureSource source : featureSources) {
            Tensor piece = x;
            if (source == FeatureSource.SPATIAL_AVG_POOL) {
                piece = ctx.allocate(Shape.of(batch, 1, channels));
                backend.meanTokens(piece, x);
            }
            if (gathered == null) {
                gathered = piece;
            } else {
                int tokens = gathered.shape().dim(1) + piece.shape().dim(1);
                Tensor joined = ctx.allocate(Shape.of(batch, tokens, channels));
                backend.concatTokens(joined, gathered, piece);
                gathered = joined;
            }
        }
        return gathered;
    }
}
