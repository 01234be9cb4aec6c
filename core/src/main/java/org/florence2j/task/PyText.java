package org.florence2j.task;

import java.util.regex.Pattern;

import org.florence2j.InvalidInputException;

/**
 * Python {@code str} and {@code re} semantics that the reference's parsers rely on and Java spells differently.
 *
 * <ul>
 * <li>{@code \d} in a Python str pattern is any Unicode decimal digit (category Nd), and {@code int()} reads them:
 *     Java's {@code \d} is ASCII only, so patterns say {@code \p{Nd}} and {@link #parseBin} reads any Nd digit.</li>
 * <li>{@code \s} and {@code str.strip()} use {@code str.isspace()}, which differs from both Java's {@code \s} and
 *     {@link String#strip()} (e.g. U+00A0, U+0085, U+001C..U+001F): spelled out in {@link #SPACE_CLASS}.</li>
 * <li>{@code .} and {@code $} treat only {@code \n} as a line end: patterns are compiled with
 *     {@link Pattern#UNIX_LINES}.</li>
 * </ul>
 */
final class PyText {
    /** Python's {@code \s} for str patterns: the characters for which {@code str.isspace()} is true. */
    static final String SPACE_CLASS =
            "[\\t\\n\\x0B\\f\\r\\x1C-\\x20\\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
    /** Python's {@code \d+} for str patterns. */
    static final String DIGITS = "\\p{Nd}+";

    private PyText() {
    }

    /** Compiles a pattern written with {@link #SPACE_CLASS} and {@link #DIGITS} with Python's line semantics. */
    static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNIX_LINES);
    }

    /** Python's {@code str.isspace()} for one code point. */
    static boolean isSpace(int codePoint) {
        return switch (codePoint) {
            case '\t', '\n', 0x0B, '\f', '\r', 0x1C, 0x1D, 0x1E, 0x1F, ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029,
                 0x202F, 0x205F, 0x3000 -> true;
            default -> codePoint >= 0x2000 && codePoint <= 0x200A;
        };
    }

    /** Python's {@code len(s[:end])}: code points, where a character outside the BMP counts once. */
    static int length(String s, int end) {
        return s.codePointCount(0, end);
    }

    /** Python's {@code len(s)}. */
    static int length(String s) {
        return length(s, s.length());
    }

    /** Python's {@code s.strip()}. */
    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    /** Python's {@code s.encode('ascii', errors='ignore').decode('ascii')}: every non-ASCII character dropped. */
    static String asciiOnly(String s) {
        StringBuilder ascii = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                ascii.append(c);
            }
        }
        return ascii.toString();
    }

    /** Python's {@code s.replace(old, new, 1)}. */
    static String replaceFirst(String s, String target, String replacement) {
        int at = s.indexOf(target);
        return at < 0 ? s : s.substring(0, at) + replacement + s.substring(at + target.length());
    }

    /**
     * Python's {@code int(digits)} for a run of Nd digits, limited to int64 as the reference's
     * {@code torch.tensor(bins)} is on its box paths (it raises beyond; see {@link PostProcessor} for the others).
     *
     * @throws InvalidInputException when the bin does not fit in a signed 64-bit int
     */
    static long parseBin(String digits) {
        long value = 0;
        for (int i = 0; i < digits.length(); ) {
            int codePoint = digits.codePointAt(i);
            int digit = Character.digit(codePoint, 10);
            if (digit < 0) {
                throw new IllegalArgumentException("not a decimal digit: U+" + Integer.toHexString(codePoint));
            }
            if (value > (Long.MAX_VALUE - digit) / 10) {
                throw new InvalidInputException("location token <loc_" + digits + "> does not fit in a signed 64-bit int");
            }
            value = value * 10 + digit;
            i += Character.charCount(codePoint);
        }
        return value;
    }
}
