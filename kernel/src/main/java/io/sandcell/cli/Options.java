package io.sandcell.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A table of options. Each is given as {@code --flag value} or {@code --flag=value} (switches take no value),
 * or through its environment variable; the flag wins over the variable, which wins over the default.
 */
public final class Options {

    /**
     * One option.
     *
     * @param flag the long flag, with its dashes
     * @param alias a short alias such as {@code -f}, or null
     * @param env the environment variable, or null
     * @param defaultValue the default, or null for none
     * @param isSwitch true for a boolean flag that takes no value
     * @param secret true when the value must never be printed
     * @param help one line of help
     */
    public record Spec(String flag, String alias, String env, String defaultValue, boolean isSwitch, boolean secret,
                       String help) {
        public static Spec value(String flag, String env, String defaultValue, String help) {
            return new Spec(flag, null, env, defaultValue, false, false, help);
        }

        public static Spec secret(String flag, String env, String help) {
            return new Spec(flag, null, env, null, false, true, help);
        }

        public static Spec flag(String flag, String env, String help) {
            return new Spec(flag, null, env, "false", true, false, help);
        }

        public Spec withAlias(String a) {
            return new Spec(flag, a, env, defaultValue, isSwitch, secret, help);
        }
    }

    private final List<Spec> specs;

    public Options(List<Spec> specs) {
        this.specs = List.copyOf(specs);
    }

    public List<Spec> specs() {
        return specs;
    }

    /** Parses flags and the environment. Positional arguments are returned in {@link Parsed#positional()}. */
    public Parsed parse(String[] args, Map<String, String> env) throws UsageException {
        Map<String, String> values = new LinkedHashMap<>();
        for (Spec s : specs) {
            String fromEnv = s.env() == null ? null : env.get(s.env());
            String v = fromEnv != null && !fromEnv.isEmpty() ? fromEnv : s.defaultValue();
            if (v != null) {
                values.put(s.flag(), v);
            }
        }
        List<String> positional = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-") || arg.equals("-")) {
                positional.add(arg);
                continue;
            }
            String name = arg;
            String inline = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                inline = arg.substring(eq + 1);
            }
            Spec spec = find(name);
            if (spec.isSwitch()) {
                values.put(spec.flag(), inline == null ? "true" : inline);
            } else if (inline != null) {
                values.put(spec.flag(), inline);
            } else if (i + 1 < args.length) {
                values.put(spec.flag(), args[++i]);
            } else {
                throw new UsageException("option " + name + " needs a value");
            }
        }
        return new Parsed(values, positional);
    }

    private Spec find(String name) throws UsageException {
        for (Spec s : specs) {
            if (s.flag().equals(name) || name.equals(s.alias())) {
                return s;
            }
        }
        throw new UsageException("unknown option " + name + " (see --help)");
    }

    /** The help text: a usage line and one entry per option. */
    public String help(String usage) {
        StringBuilder b = new StringBuilder("Usage: ").append(usage).append("\n\nOptions:\n");
        for (Spec s : specs) {
            b.append("  ").append(s.alias() == null ? "" : s.alias() + ", ").append(s.flag());
            if (!s.isSwitch()) {
                b.append(" VALUE");
            }
            b.append("\n      ").append(s.help());
            if (s.env() != null) {
                b.append("\n      env: ").append(s.env());
            }
            if (s.defaultValue() != null && !s.isSwitch() && !s.defaultValue().isEmpty()) {
                b.append("; default: ").append(s.defaultValue());
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** Parsed values, with typed accessors that fail with a message naming the option. */
    public static final class Parsed {
        private final Map<String, String> values;
        private final List<String> positional;

        Parsed(Map<String, String> values, List<String> positional) {
            this.values = values;
            this.positional = List.copyOf(positional);
        }

        public List<String> positional() {
            return positional;
        }

        public String get(String flag) {
            return values.get(flag);
        }

        public boolean has(String flag) {
            String v = values.get(flag);
            return v != null && !v.isEmpty();
        }

        public boolean bool(String flag) throws UsageException {
            String v = values.getOrDefault(flag, "false").trim().toLowerCase(java.util.Locale.ROOT);
            return switch (v) {
                case "true", "1", "yes", "on" -> true;
                case "false", "0", "no", "off", "" -> false;
                default -> throw new UsageException(flag + " must be true or false, not '" + v + "'");
            };
        }

        public int integer(String flag) throws UsageException {
            String v = values.get(flag);
            try {
                return Integer.parseInt(v.trim());
            } catch (NumberFormatException | NullPointerException e) {
                throw new UsageException(flag + " must be a whole number, not '" + v + "'");
            }
        }

        public long longValue(String flag) throws UsageException {
            String v = values.get(flag);
            try {
                return Long.parseLong(v.trim());
            } catch (NumberFormatException | NullPointerException e) {
                throw new UsageException(flag + " must be a whole number, not '" + v + "'");
            }
        }

        public double decimal(String flag) throws UsageException {
            String v = values.get(flag);
            try {
                return Double.parseDouble(v.trim());
            } catch (NumberFormatException | NullPointerException e) {
                throw new UsageException(flag + " must be a number, not '" + v + "'");
            }
        }

        public Path path(String flag) {
            String v = values.get(flag);
            return v == null || v.isEmpty() ? null : Path.of(v);
        }

        public List<String> list(String flag) {
            String v = values.get(flag);
            if (v == null || v.isBlank()) {
                return List.of();
            }
            return Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        }
    }
}
