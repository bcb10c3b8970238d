import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import liquibase.integration.commandline.LiquibaseCommandLine;

/**
 * Many runs of the real Liquibase CLI in one JVM, for the differential test: each line of
 * stdin is one command line (arguments separated by tabs), run by Liquibase's own
 * {@code LiquibaseCommandLine.execute}, exactly what {@code liquibase ARGS} runs, without a
 * JVM start (several seconds) per command. Each answer ends with a line {@code == exit N}.
 */
public final class LiquibaseSession {
    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            int code;
            try {
                code = new LiquibaseCommandLine().execute(line.split("\t", -1));
            } catch (Throwable t) {
                t.printStackTrace(out);
                code = 255;
            }
            System.out.flush();
            System.err.flush();
            out.println("== exit " + code);
            out.flush();
        }
    }
}
