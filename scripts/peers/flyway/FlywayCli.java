// A small command line over Flyway's Java API (flyway-core), for the differential tests: the
// open-source Flyway command-line package is a download of its own, so the tests drive the same
// library a Java application embeds. Commands: migrate, info, validate, baseline, repair.
// Settings are Flyway's own, given as `-key=value` (`-url=jdbc:postgresql://…`, `-user=…`,
// `-locations=filesystem:DIR`, `-outOfOrder=true`, `-baselineVersion=…`, `-table=…`,
// `-target=…`), as the Flyway CLI spells them, and FLYWAY_* variables (`envVars()`).
//
// `session` reads such command lines from standard input, one per line, runs each in this one
// JVM (a JVM start costs seconds; a differential runs hundreds of steps) and ends each answer
// with `== exit N`.
//
// Output: `info` prints Flyway's own ASCII table (MigrationInfoDumper), then one line per
// migration, `migration<TAB>category<TAB>version<TAB>description<TAB>type<TAB>state<TAB>checksum
// <TAB>script`, and `current<TAB>version`, for scripts to compare with. Exit codes: 0 done, 1 a
// FlywayException (validate failed, migrate failed, …: Flyway's CLI also exits 1 on every
// error), 2 bad usage.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashMap;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.internal.info.MigrationInfoDumper;

public final class FlywayCli {
    public static void main(String[] args) throws java.io.IOException {
        if (args.length == 1 && args[0].equals("session")) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                int code = run(line.trim().split("\\s+"));
                System.out.println("== exit " + code);
                System.out.flush();
            }
            return;
        }
        System.exit(run(args));
    }

    private static final String USAGE = "usage: flyway migrate|info|validate|baseline|repair [-key=value…] | flyway session";

    /** Runs one command; returns its exit code. */
    static int run(String[] args) {
        String command = null;
        Map<String, String> props = new HashMap<>();
        for (String arg : args) {
            if (arg.startsWith("-") && arg.contains("=")) {
                int eq = arg.indexOf('=');
                props.put("flyway." + arg.substring(1, eq), arg.substring(eq + 1));
            } else if (command == null) {
                command = arg;
            } else {
                System.err.println(USAGE);
                return 2;
            }
        }
        if (command == null) {
            System.err.println(USAGE);
            return 2;
        }
        try {
            Flyway flyway = Flyway.configure().envVars().configuration(props).load();
            switch (command) {
                case "migrate" -> {
                    var result = flyway.migrate();
                    System.out.println("migrated\t" + result.migrationsExecuted + "\t" + result.targetSchemaVersion);
                }
                case "info" -> info(flyway.info());
                case "validate" -> {
                    flyway.validate();
                    System.out.println("valid");
                }
                case "baseline" -> {
                    var result = flyway.baseline();
                    System.out.println("baselined\t" + result.baselineVersion);
                }
                case "repair" -> {
                    var result = flyway.repair();
                    System.out.println("repaired\t" + String.join(",", result.repairActions));
                }
                default -> {
                    System.err.println("unknown command " + command);
                    return 2;
                }
            }
        } catch (FlywayException e) {
            System.err.println("ERROR: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static void info(MigrationInfoService service) {
        MigrationInfo[] all = service.all();
        System.out.println(MigrationInfoDumper.dumpToAsciiTable(all));
        for (MigrationInfo m : all) {
            String category = m.getType().isSynthetic() ? "" : m.getVersion() == null ? "Repeatable"
                : m.getType().isBaseline() ? "Baseline" : "Versioned";
            System.out.println(String.join("\t", "migration", category,
                m.getVersion() == null ? "" : m.getVersion().toString(),
                m.getDescription(), m.getType().name(), m.getState().name(),
                m.getChecksum() == null ? "" : m.getChecksum().toString(),
                m.getScript() == null ? "" : m.getScript()));
        }
        MigrationInfo current = service.current();
        System.out.println("current\t" + (current == null || current.getVersion() == null ? "" : current.getVersion()));
    }
}
