package org.florence2j.task;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The text piece of one token id as the reference's {@code decode_with_spans} makes it: the token for special
 * tokens, else the byte-level decode of that single token. Test-only stand-in for the tokenizer, read from the
 * golden model's {@code vocab.json} plus Florence-2's 1024 added tokens (ids 50265..51288).
 */
final class TokenPieces {
    private static final String[] ADDED_AFTER_LOCATIONS = {"<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>",
        "</dcap>", "<grounding>", "</grounding>", "<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>",
        "<region_to_desciption>", "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>", "</poly>",
        "<and>"};
    private static final Map<Integer, String> SPECIAL = new HashMap<>();
    private static final Map<Integer, String> VOCAB = new HashMap<>();
    private static final Map<Character, Integer> BYTE_OF_CHAR = byteOfChar();

    static {
        JsonNode vocab = Golden.read("model/vocab.json");
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            VOCAB.put(entry.getValue().asInt(), entry.getKey());
        }
        for (String special : new String[] {"<s>", "<pad>", "</s>", "<unk>", "<mask>"}) {
            SPECIAL.put(vocab.get(special).asInt(), special);
        }
        String[] odOcr = {"<od>", "</od>", "<ocr>", "</ocr>"};
        for (int i = 0; i < odOcr.length; i++) {
            SPECIAL.put(50265 + i, odOcr[i]);
        }
        for (int bin = 0; bin < LocationTokens.BINS; bin++) {
            SPECIAL.put(LocationTokens.tokenId(bin), LocationTokens.token(bin));
        }
        for (int i = 0; i < ADDED_AFTER_LOCATIONS.length; i++) {
            SPECIAL.put(LocationTokens.FIRST_ID + LocationTokens.BINS + i, ADDED_AFTER_LOCATIONS[i]);
        }
    }

    private TokenPieces() {
    }

    static String pieceOf(int id) {
        String special = SPECIAL.get(id);
        if (special != null) {
            return special;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (char c : VOCAB.get(id).toCharArray()) {
            bytes.write(BYTE_OF_CHAR.get(c));
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** GPT-2's {@code bytes_to_unicode}, inverted: printable bytes map to themselves, the rest to 256 + n. */
    private static Map<Character, Integer> byteOfChar() {
        Map<Character, Integer> map = new HashMap<>();
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map.put(printable ? (char) b : (char) (256 + shifted++), b);
        }
        return map;
    }
}
