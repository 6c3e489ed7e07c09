package phi2j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

/**
 * Runs one CLI command in this fresh JVM, then prints every shared library the JVM has mapped (from
 * /proc/self/maps) after a line "MAPPED:", so a test can see what the command loaded into its caller.
 */
public final class MappedLibrariesMain {
    public static void main(String[] args) throws Exception {
        int exit = Main.run(args);
        System.out.flush();
        TreeSet<String> libs = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            int slash = line.indexOf('/');
            if (slash >= 0 && line.contains(".so")) {
                libs.add(Path.of(line.substring(slash).strip()).getFileName().toString());
            }
        }
        System.out.println("MAPPED:");
        libs.forEach(System.out::println);
        System.exit(exit);
    }
}
