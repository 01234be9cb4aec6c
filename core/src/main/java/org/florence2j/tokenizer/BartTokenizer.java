package org.florence2j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import org.florence2j.InvalidInputException;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.FileErrors;
import org.florence2j.checkpoint.JsonFiles;

/**
 * Florence-2's text tokenizer: RoBERTa/BART byte-level BPE (50,265 ids) plus the 1,024 special tokens the Florence-2
 * processor adds ({@code <od> </od> <ocr> </ocr>}, {@code <loc_0>}…{@code <loc_999>}, {@code <cap>}…{@code <and>}).
 *
 * <p>Reproduces what {@code Florence2Processor} (processing_florence2.py, Florence-2 commit 00d2f15) gets from
 * {@code BartTokenizerFast} with HF tokenizers: added tokens are cut out of the raw text first (longest match,
 * lstrip/rstrip honoured; {@code <mask>} swallows the whitespace on its left), the rest goes through the GPT-2 split
 * regex and BPE, and the ids are wrapped in {@code <s>}…{@code </s>}. Decoding joins the tokens' bytes with no spaces
 * around added tokens ({@code <s>car<loc_52>}), replaces invalid UTF-8 with U+FFFD, and by default applies
 * transformers' {@code clean_up_tokenization} (its default in transformers 4.41, the reference version; a
 * {@code clean_up_tokenization_spaces} entry in {@code tokenizer_config.json} overrides it).
 *
 * <p>Immutable after {@link #load}; safe to share between threads (the BPE word cache is concurrent).
 */
public final class BartTokenizer {
    /** The tokens {@code Florence2Processor.__init__} adds as additional special tokens, in id order. */
    public static final List<String> FLORENCE2_ADDED_TOKENS = florence2AddedTokens();

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final ByteLevelBpe bpe;
    private final AddedVocabulary addedVocabulary;
    /** Every id's token string; {@code null} for an id no token has. */
    private final String[] tokens;
    /** Every id's bytes under the byte-level decoder. */
    private final byte[][] tokenBytes;
    private final boolean[] special;
    private final Map<String, Integer> addedIds;
    private final boolean cleanUpTokenizationSpaces;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;

    private BartTokenizer(Path file, ByteLevelBpe bpe, List<AddedToken> added, boolean cleanUpTokenizationSpaces) {
        this.file = file;
        this.bpe = bpe;
        this.addedVocabulary = new AddedVocabulary(added);
        this.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        int span = bpe.idSpan();
        for (AddedToken token : added) {
            span = Math.max(span, token.id() + 1);
        }
        tokens = new String[span];
        tokenBytes = new byte[span][];
        special = new boolean[span];
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (int id = 0; id < bpe.idSpan(); id++) {
            tokens[id] = bpe.tokenOf(id);
        }
        // An added token's content wins over the model vocab's for its id, as in HF's id_to_token.
        for (AddedToken token : added) {
            tokens[token.id()] = token.content();
            ids.put(token.content(), token.id());
        }
        // HF decides "special" by token content, so any id whose token reads as a special token is skipped.
        Set<String> specialContents = new HashSet<>();
        for (AddedToken token : added) {
            if (token.special()) {
                specialContents.add(token.content());
            }
        }
        for (int id = 0; id < span; id++) {
            special[id] = specialContents.contains(tokens[id]);
            if (tokens[id] != null) {
                byte[] bytes = ByteLevelBpe.bytesOf(tokens[id]);
                // The ByteLevel decoder passes a token with any unmapped char through as its own UTF-8.
                tokenBytes[id] = bytes != null ? bytes : tokens[id].getBytes(StandardCharsets.UTF_8);
            }
        }
        this.addedIds = Collections.unmodifiableMap(ids);
        this.bosId = requireId("<s>");
        this.eosId = requireId("</s>");
        this.padId = requireId("<pad>");
        this.unkId = requireId("<unk>");
    }

    private int requireId(String token) {
        return idOf(token).orElseThrow(() -> new IllegalArgumentException("the vocabulary has no " + token));
    }

    /**
     * Loads the tokenizer of a Florence-2 model folder: {@code tokenizer.json} (HF fast format) when present, else
     * {@code vocab.json} + {@code merges.txt} with BART's special tokens; then, either way, the Florence-2 added
     * tokens, as the processor adds them at load time. {@code tokenizer_config.json} is read when present.
     *
     * @throws CheckpointException naming the file when a tokenizer file is missing, unreadable or inconsistent
     */
    public static BartTokenizer load(Path modelDir) {
        Path configFile = modelDir.resolve("tokenizer_config.json");
        JsonNode config = Files.exists(configFile) ? JsonFiles.readObject(configFile) : JSON.createObjectNode();
        Path fastFile = modelDir.resolve("tokenizer.json");
        Vocabulary vocabulary = Files.exists(fastFile) ? readFast(fastFile) : readVocabAndMerges(modelDir, config);
        List<String> florence = new ArrayList<>();
        config.path("additional_special_tokens").forEach(t -> florence.add(t.asText()));
        florence.addAll(FLORENCE2_ADDED_TOKENS);
        addSpecialTokens(vocabulary.added(), florence, vocabulary.vocab());
        boolean cleanUp = config.path("clean_up_tokenization_spaces").asBoolean(true);
        try {
            return new BartTokenizer(vocabulary.file(), vocabulary.bpe(), vocabulary.added(), cleanUp);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(vocabulary.file(), null, -1, e.getMessage(), e);
        }
    }

    /**
     * A tokenizer's vocabulary as read from its files.
     *
     * @param file  the file its vocab came from ({@code tokenizer.json} or {@code vocab.json})
     * @param added its added tokens so far, in id order; the Florence-2 ones are added to this list
     */
    private record Vocabulary(Path file, ByteLevelBpe bpe, Map<String, Integer> vocab, List<AddedToken> added) {}

    private static Vocabulary readFast(Path file) {
        FileErrors.requireRegularFile(file);
        try {
            TokenizerJson json = TokenizerJson.readFast(JSON, file);
            checkSupported(json.rest());
            List<AddedToken> added = readAddedTokens(json.rest().path("added_tokens"));
            return new Vocabulary(file, new ByteLevelBpe(json.vocab(), json.merges()), json.vocab(), added);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, null, -1, e.getMessage(), e);
        } catch (IOException e) {
            throw FileErrors.readError(file, e);
        }
    }

    /** {@code vocab.json} and {@code merges.txt}, each error naming the file it is in. */
    private static Vocabulary readVocabAndMerges(Path modelDir, JsonNode config) {
        Path vocabFile = modelDir.resolve("vocab.json");
        if (Files.notExists(vocabFile)) {
            throw new CheckpointException(vocabFile, null, -1, "is missing, and so is tokenizer.json: the folder"
                    + " holds no tokenizer");
        }
        FileErrors.requireRegularFile(vocabFile);
        Map<String, Integer> vocab;
        try {
            vocab = TokenizerJson.readVocabFile(JSON, vocabFile);
        } catch (IOException e) {
            throw FileErrors.readError(vocabFile, e);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(vocabFile, null, -1, e.getMessage(), e);
        }
        MergesTxt merges = MergesTxt.read(modelDir.resolve("merges.txt"));
        ByteLevelBpe bpe;
        try {
            bpe = new ByteLevelBpe(vocab, merges.pairs());
        } catch (ByteLevelBpe.MergeOutsideVocab e) {
            throw merges.error(e);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(vocabFile, null, -1, e.getMessage(), e);
        }
        boolean declared = config.has("added_tokens_decoder");
        try {
            List<AddedToken> added = declared ? readAddedTokensDecoder(config.get("added_tokens_decoder"))
                    : bartSpecialTokens(vocab);
            return new Vocabulary(vocabFile, bpe, vocab, added);
        } catch (IllegalArgumentException e) {
            Path where = declared ? modelDir.resolve("tokenizer_config.json") : vocabFile;
            throw new CheckpointException(where, null, -1, e.getMessage(), e);
        }
    }

    /** The ids of {@code text}, wrapped in {@code <s>}…{@code </s>} as the processor's tokenizer call does. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * The ids of {@code text}, wrapped in {@code <s>}…{@code </s>} when {@code addSpecialTokens}.
     *
     * @throws InvalidInputException when the text holds an unpaired surrogate (it has no UTF-8 form; the reference
     *                               refuses such a string too)
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        checkWellFormed(text);
        IdList ids = new IdList();
        if (addSpecialTokens) {
            ids.add(bosId);
        }
        addedVocabulary.encode(text, bpe, ids);
        if (addSpecialTokens) {
            ids.add(eosId);
        }
        return ids.toArray();
    }

    /** The token strings of {@code encode(text)} (byte-level form: a leading space shows as {@code Ġ}). */
    public List<String> tokens(String text) {
        int[] ids = encode(text);
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) {
            out.add(tokens[id]);
        }
        return out;
    }

    /**
     * The text of {@code ids}. With {@code skipSpecialTokens} every special token ({@code <s> </s> <pad> <unk>
     * <mask>} and the Florence-2 tokens) is dropped; otherwise each is written as itself with no added space. An id
     * that is no token's is dropped too, as the reference's fast tokenizer drops it: a model whose
     * {@code vocab_size} pads the tokenizer's can generate one.
     *
     * @throws InvalidInputException naming the id and its position when an id is negative, which the reference
     *                               cannot convert
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        byte[] bytes = new byte[Math.max(16, ids.length * 4)];
        int length = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0) {
                throw new InvalidInputException("token id " + id + " at position " + i + " is negative");
            }
            if (id >= tokens.length || tokens[id] == null || skipSpecialTokens && special[id]) {
                continue;
            }
            byte[] piece = tokenBytes[id];
            if (length + piece.length > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + piece.length));
            }
            System.arraycopy(piece, 0, bytes, length, piece.length);
            length += piece.length;
        }
        String text = ByteLevelBpe.decodeLossy(bytes, length);
        return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
    }

    /**
     * The text of one token as the reference's post-processor ({@code decode_with_spans}) sees it: the token
     * itself for a special token, else the byte-level decode of that single token, with no clean-up of spaces; empty
     * for an id that is no token's, which {@link #decode} drops.
     *
     * @throws InvalidInputException when the id is negative
     */
    public String piece(int id) {
        if (id >= tokens.length || id >= 0 && tokens[id] == null) {
            return "";
        }
        String token = tokenOf(id);
        if (special[id]) {
            return token;
        }
        return ByteLevelBpe.decodeLossy(tokenBytes[id], tokenBytes[id].length);
    }

    /** transformers' {@code PreTrainedTokenizerBase.clean_up_tokenization}: English spacing before punctuation. */
    static String cleanUpTokenization(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** The id of a token string (an added token or a BPE vocab entry), if it has one. */
    public OptionalInt idOf(String token) {
        Integer added = addedIds.get(token);
        if (added != null) {
            return OptionalInt.of(added);
        }
        int id = bpe.idOf(token);
        return id >= 0 ? OptionalInt.of(id) : OptionalInt.empty();
    }

    /**
     * The token string of an id.
     *
     * @throws InvalidInputException when the id is no token's
     */
    public String tokenOf(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new InvalidInputException("token id " + id + " is not in the vocabulary (ids 0.."
                    + (tokens.length - 1) + ")");
        }
        return tokens[id];
    }

    /** Whether {@code decode(ids, true)} drops this id; false for an id outside the vocabulary. */
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /** The file the vocabulary was read from: {@code tokenizer.json}, else {@code vocab.json}. */
    public Path file() {
        return file;
    }

    /** One past the largest id: 51,289 for Florence-2 (HF's {@code len(tokenizer)}). */
    public int vocabSize() {
        return tokens.length;
    }

    /** Id of {@code <s>}, which starts every encoded text (0 for Florence-2). */
    public int bosId() {
        return bosId;
    }

    /** Id of {@code </s>}, which ends every encoded text (2 for Florence-2). */
    public int eosId() {
        return eosId;
    }

    /** Id of {@code <pad>} (1 for Florence-2). */
    public int padId() {
        return padId;
    }

    /** Id of {@code <unk>} (3 for Florence-2; byte-level BPE never produces it). */
    public int unkId() {
        return unkId;
    }

    private static void checkWellFormed(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidInputException(String.format("text holds an unpaired surrogate U+%04X at char index"
                        + " %d; it has no UTF-8 form and cannot be tokenized", (int) c, i));
            }
        }
    }

    private static void checkSupported(JsonNode root) {
        String model = root.path("model").path("type").asText("BPE");
        String preTokenizer = root.path("pre_tokenizer").path("type").asText("");
        if (!model.equals("BPE") || !preTokenizer.equals("ByteLevel") || !root.path("normalizer").isNull()
                || root.path("pre_tokenizer").path("add_prefix_space").asBoolean(false)) {
            throw new IllegalArgumentException("only byte-level BPE without normalizer or prefix space is supported"
                    + " (model " + model + ", pre_tokenizer " + root.path("pre_tokenizer") + ", normalizer "
                    + root.path("normalizer") + ")");
        }
    }

    /**
     * Adds {@code contents} as special tokens the way HF's {@code AddedVocabulary::add_tokens} does: a token already
     * in the vocabulary keeps its id, a new one takes the next id after the model vocab and the added tokens so far.
     */
    private static void addSpecialTokens(List<AddedToken> added, List<String> contents, Map<String, Integer> vocab) {
        Map<String, Integer> index = new LinkedHashMap<>();
        for (int i = 0; i < added.size(); i++) {
            index.put(added.get(i).content(), i);
        }
        int maxAdded = added.stream().mapToInt(AddedToken::id).max().orElse(-1);
        for (String content : contents) {
            Integer existing = index.get(content);
            int id;
            if (existing != null) {
                id = added.get(existing).id();
            } else if (vocab.containsKey(content)) {
                id = vocab.get(content);
            } else {
                id = maxAdded >= vocab.size() ? maxAdded + 1 : vocab.size();
            }
            maxAdded = Math.max(maxAdded, id);
            // transformers adds string special tokens as AddedToken(special=True, normalized=False), no strip.
            AddedToken token = new AddedToken(content, id, true, false, false, false, false);
            if (existing != null) {
                added.set(existing, token);
            } else {
                index.put(content, added.size());
                added.add(token);
            }
        }
    }

    /** BartTokenizer's defaults when only vocab.json + merges.txt exist: {@code <mask>} strips on the left. */
    private static List<AddedToken> bartSpecialTokens(Map<String, Integer> vocab) {
        List<AddedToken> added = new ArrayList<>();
        for (String content : List.of("<s>", "<pad>", "</s>", "<unk>", "<mask>")) {
            Integer id = vocab.get(content);
            if (id == null) {
                throw new IllegalArgumentException("vocab.json has no " + content);
            }
            added.add(new AddedToken(content, id, true, content.equals("<mask>"), false, false, true));
        }
        return added;
    }

    private static List<AddedToken> readAddedTokens(JsonNode node) {
        List<AddedToken> added = new ArrayList<>();
        for (JsonNode t : node) {
            added.add(addedToken(t, t.path("id")));
        }
        return added;
    }

    /** The {@code added_tokens_decoder} of a newer tokenizer_config.json: {"id": {content, flags}}. */
    private static List<AddedToken> readAddedTokensDecoder(JsonNode node) {
        List<AddedToken> added = new ArrayList<>();
        node.properties().forEach(e -> added.add(addedToken(e.getValue(), JSON.getNodeFactory().textNode(e.getKey()))));
        return added;
    }

    private static AddedToken addedToken(JsonNode t, JsonNode id) {
        if (!t.path("content").isTextual() || !id.asText().matches("\\d{1,9}")
                || Integer.parseInt(id.asText()) > ByteLevelBpe.MAX_TOKEN_ID) {
            throw new IllegalArgumentException("added token " + t + " lacks content or an id in [0, "
                    + ByteLevelBpe.MAX_TOKEN_ID + "]");
        }
        return new AddedToken(t.get("content").asText(), Integer.parseInt(id.asText()),
                t.path("special").asBoolean(false), t.path("lstrip").asBoolean(false),
                t.path("rstrip").asBoolean(false), t.path("single_word").asBoolean(false),
                t.path("normalized").asBoolean(true));
    }

    private static List<String> florence2AddedTokens() {
        List<String> tokens = new ArrayList<>(List.of("<od>", "</od>", "<ocr>", "</ocr>"));
        for (int i = 0; i < 1000; i++) {
            tokens.add("<loc_" + i + ">");
        }
        tokens.addAll(List.of("<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>", "</dcap>", "<grounding>",
                "</grounding>", "<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>", "<region_to_desciption>",
                "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>", "</poly>", "<and>"));
        return List.copyOf(tokens);
    }
}
