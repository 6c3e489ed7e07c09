package phi2j.runtime.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import phi2j.Phi2Exception;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Whoever answers on the runner's socket must prove it is the process the caller started: the secret token the caller
 * wrote to that process's standard input, and that process's pid. An impostor in the runner's place is refused.
 */
class RunnerHandshakeTest {
    /** Connects like a runner but says the wrong thing, as PHI2_IMPOSTOR asks: a guessed token, or another pid. */
    public static final class Impostor {
        public static void main(String[] args) throws Exception {
            String token = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine();
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(Path.of(args[0])));
            long pid = ProcessHandle.current().pid();
            Messages.Hello hello = switch (System.getenv("PHI2_IMPOSTOR")) {
                case "token" -> new Messages.Hello("0".repeat(token.length()), pid);
                case "pid" -> new Messages.Hello(token, pid + 1);
                default -> new Messages.Hello(token, pid);
            };
            Frames frames = new Frames(ch);
            frames.sendJson(Frames.HELLO, hello);
            if (System.getenv("PHI2_IMPOSTOR").equals("garbled")) { // an events frame no decoder can read
                frames.writeEvents(java.nio.ByteBuffer.wrap(new byte[] {7, 7, 7}));
                frames.flush();
            }
            Thread.sleep(30_000); // wait to be refused (the caller kills this process)
        }
    }

    @AfterEach
    void restore() {
        System.clearProperty("phi2.runner.testMain");
    }

    @Test
    void anImpostorWithAGuessedTokenOrAnotherPidIsRefused() {
        System.setProperty("phi2.runner.testMain", Impostor.class.getName());
        for (String mode : new String[] {"token", "pid"}) {
            Phi2Exception e = assertThrows(Phi2Exception.class, () -> RunnerProcess.start(null, Map.of("PHI2_IMPOSTOR", mode)).close());
            assertTrue(e.getMessage().contains("is not our runner; refusing it"), mode + ": " + e.getMessage());
        }
        // the same program telling the truth is accepted: the refusals above come from the check, not from the stand-in
        try (RunnerProcess honest = RunnerProcess.start(null, Map.of("PHI2_IMPOSTOR", "honest"))) {
            assertTrue(honest.pid() > 0);
        }
        assertEquals(0, ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .filter(h -> h.info().commandLine().orElse("").contains("Impostor")).count(), "refused impostors are killed");
    }

    @Test
    void aFrameThatCannotBeReadReachesTheCallerWithItsCauseAndStopsTheRunner() throws Exception {
        System.setProperty("phi2.runner.testMain", Impostor.class.getName());
        try (RunnerProcess rp = RunnerProcess.start(null, Map.of("PHI2_IMPOSTOR", "garbled"))) {
            Phi2Exception e = assertThrows(Phi2Exception.class, () -> rp.load(EngineParams.of(Path.of("x.gguf"),
                    phi2j.runtime.ModelOptions.defaults(), 256, 1, phi2j.runtime.EngineKind.BINDING, null), java.time.Duration.ofSeconds(20)));
            assertTrue(e.getMessage().contains("a message from the runner could not be read"), e.getMessage());
            assertNotNull(e.getCause(), "the decoding failure is kept as the cause");
            assertFalse(e instanceof phi2j.runtime.RunnerCrashedException, "not reported as a crash: " + e);
            ProcessHandle h = ProcessHandle.of(rp.pid()).orElse(null);
            for (int i = 0; i < 100 && h != null && h.isAlive(); i++) {
                Thread.sleep(50);
            }
            assertFalse(h != null && h.isAlive(), "the runner was stopped");
        }
    }
}
