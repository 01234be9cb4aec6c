package org.florence2j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random edits of a JSON tree for the fuzz tests: valid JSON holding values of the wrong kind or size. */
public final class JsonMutations {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private JsonMutations() {}

    /** A copy of {@code original} with one to three {@linkplain #edit edits}. */
    public static ObjectNode edited(ObjectNode original, Random random) {
        ObjectNode copy = original.deepCopy();
        int edits = 1 + random.nextInt(3);
        for (int edit = 0; edit < edits; edit++) {
            edit(copy, random);
        }
        return copy;
    }

    /**
     * One edit somewhere in {@code root}, chosen by a random walk from it: a value replaced by {@link #value}, an
     * array element replaced, a field removed, or an object's field copied under a new name.
     */
    public static void edit(ObjectNode root, Random random) {
        JsonNode node = root;
        while (true) {
            if (node instanceof ObjectNode object && !object.isEmpty()) {
                List<String> keys = new ArrayList<>();
                object.fieldNames().forEachRemaining(keys::add);
                String key = keys.get(random.nextInt(keys.size()));
                JsonNode child = object.get(key);
                if (child.isContainerNode() && !child.isEmpty() && random.nextInt(3) > 0) {
                    node = child;
                    continue;
                }
                switch (random.nextInt(6)) {
                    case 0 -> object.remove(key);
                    case 1 -> object.set(key + random.nextInt(3), child.deepCopy());
                    default -> object.set(key, value(random));
                }
                return;
            }
            if (node instanceof ArrayNode array && !array.isEmpty()) {
                int index = random.nextInt(array.size());
                JsonNode child = array.get(index);
                if (child.isContainerNode() && !child.isEmpty() && random.nextBoolean()) {
                    node = child;
                    continue;
                }
                array.set(index, value(random));
                return;
            }
            return;
        }
    }

    /** A JSON value of a kind a field may wrongly hold: null, a boolean, strings, edge numbers, containers. */
    public static JsonNode value(Random random) {
        return switch (random.nextInt(17)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(true);
            case 2 -> NODES.textNode("F32");
            case 3 -> NODES.textNode("");
            case 4 -> NODES.numberNode(0);
            case 5 -> NODES.numberNode(-1);
            case 6 -> NODES.numberNode(random.nextInt(64));
            case 7 -> NODES.numberNode(1L << 31);
            case 8 -> NODES.numberNode(Long.MAX_VALUE);
            case 9 -> NODES.numberNode(BigInteger.ONE.shiftLeft(64));
            case 10 -> NODES.numberNode(1.5);
            case 11 -> NODES.numberNode(1e308);
            case 12 -> NODES.arrayNode();
            case 13 -> NODES.objectNode();
            case 14 -> NODES.arrayNode().add(random.nextInt(50)).add(random.nextInt(50));
            case 15 -> NODES.numberNode(100_000);
            default -> NODES.arrayNode().add(1 << 16).add(1 << 16).add(1 << 16);
        };
    }
}
