package org.florence2j.image;

import java.io.IOException;
import org.w3c.dom.Node;

/** Reading an image reader's native metadata tree: a node's named child and its attributes. */
final class MetadataNodes {
    private MetadataNodes() {}

    /** The first child of {@code parent} named {@code name}, or null. */
    static Node child(Node parent, String name) {
        for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
            if (node.getNodeName().equals(name)) {
                return node;
            }
        }
        return null;
    }

    /** The attribute {@code name} of {@code node}, or null. */
    static String attribute(Node node, String name) {
        Node value = node.getAttributes().getNamedItem(name);
        return value == null ? null : value.getNodeValue();
    }

    /**
     * The attribute {@code name} of {@code node} as an int.
     *
     * @throws IOException when it is missing or not an int, naming the node and the attribute
     */
    static int intAttribute(Node node, String name) throws IOException {
        String value = attribute(node, name);
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IOException("the image's " + node.getNodeName() + " has no " + name + " (" + value + ")", e);
        }
    }
}
