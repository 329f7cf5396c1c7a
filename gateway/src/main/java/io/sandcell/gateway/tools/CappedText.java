package io.sandcell.gateway.tools;

import java.nio.charset.StandardCharsets;

/**
 * Text kept up to a byte budget: the head, then (once the budget is passed) the most recent tail, with a
 * marker saying how much was dropped between them. Memory stays bounded whatever a cell prints.
 */
final class CappedText {
    private final int limit;
    private final StringBuilder head = new StringBuilder();
    private final StringBuilder tail = new StringBuilder();
    private int headBytes;
    private long dropped;

    CappedText(int limitBytes) {
        this.limit = limitBytes;
    }

    void append(String text) {
        if (text.isEmpty()) {
            return;
        }
        int headBudget = limit * 3 / 4;
        if (dropped == 0 && tail.isEmpty() && headBytes + utf8(text) <= headBudget) {
            head.append(text);
            headBytes += utf8(text);
            return;
        }
        if (dropped == 0 && tail.isEmpty()) {
            int room = headBudget - headBytes;
            int cut = prefixFitting(text, room);
            head.append(text, 0, cut);
            headBytes += utf8(text.substring(0, cut));
            text = text.substring(cut);
        }
        tail.append(text);
        int tailBudget = limit - headBudget;
        int excess = tail.length() - tailBudget; // chars; trimmed by bytes below
        if (excess > 0) {
            dropped += utf8(tail.substring(0, excess));
            tail.delete(0, excess);
        }
        while (utf8(tail.toString()) > tailBudget && !tail.isEmpty()) {
            int n = Math.max(1, tail.length() / 16);
            dropped += utf8(tail.substring(0, n));
            tail.delete(0, n);
        }
    }

    private static int prefixFitting(String text, int bytes) {
        int used = 0;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (used + n > bytes) {
                break;
            }
            used += n;
            i += Character.charCount(cp);
        }
        return i;
    }

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    boolean truncated() {
        return dropped > 0;
    }

    @Override
    public String toString() {
        if (dropped == 0) {
            return head.toString() + tail;
        }
        return head + "\n[... " + dropped + " bytes of output truncated ...]\n" + tail;
    }
}
