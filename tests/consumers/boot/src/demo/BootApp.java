package demo;

import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

import java.nio.file.Path;

/** The same application inside Spring Boot, packaged as its executable jar (the libraries nested in BOOT-INF/lib). */
@SpringBootApplication
public class BootApp implements CommandLineRunner {
    public static void main(String[] args) {
        SpringApplication.run(BootApp.class, args);
    }

    @Override
    public void run(String... args) {
        App.run(Path.of(args[0]), args[1]);
    }
}
