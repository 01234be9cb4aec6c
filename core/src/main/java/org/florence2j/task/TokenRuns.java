package org.florence2j.task;

import java.util.ArrayList;
import java.util.List;

/**
 * Linear-time scanners for the reference's patterns that repeat whole tokens ({@code (?:<loc_\d+>){4,}},
 * {@code [^<]+(?:<loc_\d+>|<sep>|…){4,}}, {@code ((?:<loc_\d+>)+)(?:<sep>|$)}, {@code (.+?)(?:<loc_\d+>){8}}),
 * with the same matches as Python's {@code re.findall} / {@code re.finditer}.
 *
 * <p>Why not {@link java.util.regex}: it recurses once per repetition of a multi-character group, so a long run of
 * location tokens overflows the stack, and the lazy OCR pattern is quadratic on a long line without boxes. Each
 * method below states the pattern it replaces and why its shortcut gives the same matches.
 */
final class TokenRuns {
    /** A match {@code [start, end)} of the scanned text. */
    record Span(int start, int end) {
        String of(String text) {
            return text.substring(start, end);
        }
    }

    private TokenRuns() {
    }

    /** The end of a {@code <loc_\d+>} token at {@code at} ({@code \d} = any Nd digit, as in Python), or -1. */
    static int locationTokenEnd(String text, int at) {
        if (!text.startsWith("<loc_", at)) {
            return -1;
        }
        int i = at + "<loc_".length();
        int digitsStart = i;
        while (i < text.length()) {
            int codePoint = text.codePointAt(i);
            if (!Character.isDigit(codePoint)) {
                break;
            }
            i += Character.charCount(codePoint);
        }
        return i > digitsStart && i < text.length() && text.charAt(i) == '>' ? i + 1 : -1;
    }

    /**
     * {@code re.findall} of {@code [^<]+(?:T){4,}} ({@code phraseFirst}) or {@code (?:T){4,}}, where T is a location
     * token or one of {@code literals}.
     *
     * <p>{@code [^<]+} always runs to the next {@code <} (a shorter run would leave a non-{@code <} character where a
     * token must start), and nothing follows the greedy token run, so a start matches iff at least 4 tokens follow
     * its run of non-{@code <} characters, and then every start in that run would have matched the same way.
     */
    static List<Span> findRuns(String text, boolean phraseFirst, String... literals) {
        List<Span> runs = new ArrayList<>();
        int start = 0;
        while (start < text.length()) {
            int tokensStart = start;
            if (phraseFirst) {
                if (text.charAt(start) == '<') {
                    start++;
                    continue;
                }
                tokensStart = text.indexOf('<', start);
                if (tokensStart < 0) {
                    break;
                }
            }
            int end = tokensStart;
            int count = 0;
            for (int next = tokenEnd(text, end, literals); next >= 0; next = tokenEnd(text, end, literals)) {
                end = next;
                count++;
            }
            if (count >= 4) {
                runs.add(new Span(start, end));
                start = end;
            } else {
                start = phraseFirst ? tokensStart : start + 1;
            }
        }
        return runs;
    }

    /**
     * {@code re.finditer} of {@code ((?:<loc_\d+>)+)(?:<sep>|$)}, giving group 1's spans. Python's {@code $} matches
     * at the end and before a final newline. A run that is not followed by {@code <sep>} or the end fails from every
     * start inside it too (they share its end), so the scan skips past it.
     */
    static List<Span> findPolygons(String text) {
        List<Span> polygons = new ArrayList<>();
        int start = 0;
        while (start < text.length()) {
            int end = start;
            for (int next = locationTokenEnd(text, end); next >= 0; next = locationTokenEnd(text, end)) {
                end = next;
            }
            if (end == start) {
                start++;
                continue;
            }
            boolean atEnd = end == text.length() || (end == text.length() - 1 && text.charAt(end) == '\n');
            if (text.startsWith("<sep>", end)) {
                polygons.add(new Span(start, end));
                start = end + "<sep>".length();
            } else if (atEnd) {
                polygons.add(new Span(start, end));
                start = end;
            } else {
                start = end;
            }
        }
        return polygons;
    }

    /**
     * {@code re.findall} of {@code (.+?)(?:<loc_\d+>){8}}, giving group 1's spans: the 8 tokens start where a span
     * ends ({@link #quadEnd} finds their end). {@code .} stops at {@code \n}, so the lazy text takes the nearest
     * 8-token run on its line; when its line has none, no later start on that line can match either and the scan
     * moves to the next line.
     */
    static List<Span> findTextWithQuads(String text) {
        List<Span> lines = new ArrayList<>();
        int start = 0;
        while (start < text.length()) {
            if (text.charAt(start) == '\n') {
                start++;
                continue;
            }
            int lineEnd = text.indexOf('\n', start);
            lineEnd = lineEnd < 0 ? text.length() : lineEnd;
            int quadStart = text.indexOf('<', start + 1);
            while (quadStart >= 0 && quadStart < lineEnd && quadEnd(text, quadStart) < 0) {
                quadStart = text.indexOf('<', quadStart + 1);
            }
            if (quadStart < 0 || quadStart >= lineEnd) {
                start = lineEnd;
            } else {
                lines.add(new Span(start, quadStart));
                start = quadEnd(text, quadStart);
            }
        }
        return lines;
    }

    /** The end of 8 consecutive location tokens at {@code at}, or -1. */
    static int quadEnd(String text, int at) {
        int end = at;
        for (int i = 0; i < 8 && end >= 0; i++) {
            end = locationTokenEnd(text, end);
        }
        return end;
    }

    /**
     * The bins of the location tokens in {@code [start, end)} of {@code text}, in order, as
     * {@code [int(m.group(1)) for m in re.finditer(r'<loc_(\d+)>', ...)]}.
     *
     * @throws org.florence2j.InvalidInputException when a bin exceeds 64 bits
     */
    static List<Long> bins(String text, int start, int end) {
        return binDigits(text, start, end).stream().map(PyText::parseBin).toList();
    }

    /** The digits of the location tokens in {@code [start, end)} of {@code text}, in order, not yet read. */
    static List<String> binDigits(String text, int start, int end) {
        List<String> digits = new ArrayList<>();
        int at = start;
        while (at < end) {
            int tokenEnd = locationTokenEnd(text, at);
            if (tokenEnd < 0 || tokenEnd > end) {
                at++;
                continue;
            }
            digits.add(text.substring(at + "<loc_".length(), tokenEnd - 1));
            at = tokenEnd;
        }
        return digits;
    }

    private static int tokenEnd(String text, int at, String... literals) {
        int end = locationTokenEnd(text, at);
        if (end >= 0) {
            return end;
        }
        for (String literal : literals) {
            if (text.startsWith(literal, at)) {
                return at + literal.length();
            }
        }
        return -1;
    }
}
