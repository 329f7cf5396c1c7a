package io.sandcell.sandbox;

/**
 * An IPv4 address block such as {@code 10.201.0.0/16}; a bare address is a /32.
 *
 * @param base the first address, as an unsigned 32-bit value in an int
 * @param prefix the prefix length, 0 to 32
 */
public record Cidr(int base, int prefix) {

    public Cidr {
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("prefix length must be 0 to 32, not " + prefix);
        }
        base &= mask(prefix);
    }

    /**
     * Parses {@code a.b.c.d} or {@code a.b.c.d/n}.
     *
     * @throws IllegalArgumentException naming the text when it is not an IPv4 address or block
     */
    public static Cidr parse(String text) {
        String t = text.strip();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        int prefix = 32;
        if (slash >= 0) {
            String n = t.substring(slash + 1);
            if (!n.matches("\\d{1,2}") || Integer.parseInt(n) > 32) {
                throw new IllegalArgumentException("not an IPv4 address block: '" + text + "'");
            }
            prefix = Integer.parseInt(n);
        }
        String[] parts = addr.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address block: '" + text + "'");
        }
        int value = 0;
        for (String p : parts) {
            if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > 255) {
                throw new IllegalArgumentException("not an IPv4 address block: '" + text + "'");
            }
            value = value << 8 | Integer.parseInt(p);
        }
        return new Cidr(value, prefix);
    }

    private static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    /** How many addresses the block holds. */
    public long size() {
        return 1L << (32 - prefix);
    }

    /** The address at this offset from the base, as text. */
    public String address(long offset) {
        if (offset < 0 || offset >= size()) {
            throw new IllegalArgumentException("offset " + offset + " is outside " + this);
        }
        return format(base + (int) offset);
    }

    public boolean contains(Cidr other) {
        return other.prefix >= prefix && (other.base & mask(prefix)) == base;
    }

    public boolean overlaps(Cidr other) {
        return contains(other) || other.contains(this);
    }

    private static String format(int v) {
        return (v >>> 24) + "." + (v >>> 16 & 255) + "." + (v >>> 8 & 255) + "." + (v & 255);
    }

    @Override
    public String toString() {
        return format(base) + "/" + prefix;
    }
}
