package io.sandcell.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.cli.Options.Spec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptionsTest {
    private final Options options = new Options(List.of(
            Spec.value("--port", "X_PORT", "8888", "the port"),
            Spec.flag("--no-auth", "X_NO_AUTH", "no auth"),
            Spec.value("--file", null, null, "a file").withAlias("-f")));

    @Test
    void flagBeatsEnvironmentWhichBeatsDefault() throws Exception {
        assertEquals(8888, options.parse(new String[0], Map.of()).integer("--port"));
        assertEquals(9000, options.parse(new String[0], Map.of("X_PORT", "9000")).integer("--port"));
        assertEquals(9100, options.parse(new String[] {"--port", "9100"}, Map.of("X_PORT", "9000"))
                .integer("--port"));
        assertEquals(9200, options.parse(new String[] {"--port=9200"}, Map.of()).integer("--port"));
        assertTrue(options.parse(new String[] {"--no-auth"}, Map.of()).bool("--no-auth"));
        assertTrue(options.parse(new String[0], Map.of("X_NO_AUTH", "yes")).bool("--no-auth"));
        assertEquals("a.json", options.parse(new String[] {"-f", "a.json"}, Map.of()).get("--file"));
    }

    @Test
    void badInputNamesTheOption() throws Exception {
        UsageException e = assertThrows(UsageException.class,
                () -> options.parse(new String[] {"--port", "abc"}, Map.of()).integer("--port"));
        assertEquals("--port must be a whole number, not 'abc'", e.getMessage());
        e = assertThrows(UsageException.class, () -> options.parse(new String[] {"--nope"}, Map.of()));
        assertEquals("unknown option --nope (see --help)", e.getMessage());
        e = assertThrows(UsageException.class, () -> options.parse(new String[] {"--file"}, Map.of()));
        assertEquals("option --file needs a value", e.getMessage());
        assertTrue(options.help("x").contains("X_PORT"));
    }
}
