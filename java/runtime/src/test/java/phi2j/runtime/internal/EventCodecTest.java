package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenLogprob;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The one encoding of engine events: what a writer puts in, decode gives back, and scan finds its bounds. */
class EventCodecTest {
    static final List<EngineEvent> EVENTS = List.of(
            new EngineEvent.Admitted(7, 1, 12),
            new EngineEvent.Token(7, 450, -0.25f, " The", List.of(), " The"),
            new EngineEvent.Token(7, 9468, Float.NaN, "\u00e9\u00e0", List.of(), ""),
            new EngineEvent.Token(7, 11, -1.5f, "\ud83d\ude00", List.of(new TokenLogprob.Alternative(11, "\ud83d\ude00", -1.5f),
                    new TokenLogprob.Alternative(3, "", -2.0f)), "\u00e9\u00e0\ud83d\ude00"),
            new EngineEvent.Done(7, StopReason.STOP_STRING, 5, 3, 40, 1_234_567_890L, 9_876_543_210L, "tail"),
            new EngineEvent.Failed(8, Messages.ErrorKind.OPTION, "topK", "must be 0 (off) or positive, not -1"),
            new EngineEvent.Failed(9, Messages.ErrorKind.NATIVE, null, ""));

    static ByteBuffer write(List<EngineEvent> events) {
        EventCodec.Writer w = new EventCodec.Writer();
        for (EngineEvent e : events) {
            if (e instanceof EngineEvent.Admitted a) {
                w.admitted(a.id(), a.slot(), a.cachedTokens());
            } else if (e instanceof EngineEvent.Token t) {
                w.token(t.id(), t.token(), t.logprob(), t.piece(), t.top(), t.text());
            } else if (e instanceof EngineEvent.Done d) {
                w.done(d.id(), d.stop(), d.promptTokens(), d.promptEvaluated(), d.generatedTokens(), d.promptNanos(), d.decodeNanos(),
                        d.text());
            } else if (e instanceof EngineEvent.Failed f) {
                w.failed(f.id(), f.kind(), f.field(), f.message());
            }
        }
        return w.take();
    }

    @Test
    void everyKindOfEventDecodesToWhatWasWritten() {
        assertEquals(EVENTS, EventCodec.decode(write(EVENTS)));
    }

    @Test
    void aWriterThatOutgrowsItsBufferLosesNothing() {
        List<EngineEvent> many = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            many.add(new EngineEvent.Token(i, i, -i, "piece " + i, List.of(), "x".repeat(i % 37)));
        }
        assertEquals(many, EventCodec.decode(write(many)));
    }

    @Test
    void scanFindsEachEventsKindIdAndBoundsWithoutDecoding() {
        ByteBuffer b = write(EVENTS);
        List<int[]> seen = new ArrayList<>();
        EventCodec.scan(b, (kind, id, start, end) -> seen.add(new int[]{kind, id, start, end}));
        assertEquals(EVENTS.size(), seen.size());
        int at = 0;
        for (int i = 0; i < EVENTS.size(); i++) {
            int[] s = seen.get(i);
            assertEquals(at, s[2], "events lie end to end");
            assertEquals(EVENTS.get(i).id(), s[1]);
            // each slice, on its own, decodes to exactly its event
            assertEquals(List.of(EVENTS.get(i)), EventCodec.decode(b.duplicate().position(s[2]).limit(s[3])));
            at = s[3];
        }
        assertEquals(b.limit(), at, "the scan reached the end");
        assertEquals(List.of((int) EventCodec.ADMITTED, (int) EventCodec.TOKEN, (int) EventCodec.TOKEN, (int) EventCodec.TOKEN,
                (int) EventCodec.DONE, (int) EventCodec.FAILED, (int) EventCodec.FAILED), seen.stream().map(s -> s[0]).toList());
    }

    @Test
    void anUnknownKindIsAnErrorNotASkip() {
        ByteBuffer b = ByteBuffer.wrap(new byte[]{42, 1, 0, 0, 0});
        assertThrows(IllegalStateException.class, () -> EventCodec.decode(b));
        assertThrows(IllegalStateException.class, () -> EventCodec.scan(b, (k, id, s, e) -> { }));
    }

    @Test
    void theKindCodesFollowTheirNamesTable() {
        assertEquals(List.of(EventCodec.ADMITTED, EventCodec.TOKEN, EventCodec.DONE, EventCodec.FAILED),
                EventCodec.KIND_NAMES.stream().map(n -> (byte) (EventCodec.KIND_NAMES.indexOf(n) + 1)).toList());
    }

    /** The tables the Java side keeps, as the native engine would report them when both come from one build. */
    static String[][] javaTables() {
        return new String[][]{Arrays.stream(StopReason.values()).map(Enum::name).toArray(String[]::new),
                Arrays.stream(Messages.ErrorKind.values()).map(Enum::name).toArray(String[]::new),
                EventCodec.KIND_NAMES.toArray(String[]::new)};
    }

    @Test
    void anEngineWhoseTablesDifferIsRefusedNamingTheLibraryAndBothTables() {
        Path lib = Path.of("/opt/phi2j/libphi2j_engine.so");
        assertDoesNotThrow(() -> NativeEngine.checkTables(lib, javaTables()));
        for (int t = 0; t < 3; t++) {
            String[][] tables = javaTables();
            String[] swapped = tables[t].clone();
            String first = swapped[0];
            swapped[0] = swapped[1];
            swapped[1] = first;
            tables[t] = swapped;
            UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> NativeEngine.checkTables(lib, tables));
            assertTrue(e.getMessage().startsWith(lib + " names " + List.of(swapped)), e.getMessage());
            assertTrue(e.getMessage().contains("different builds"), e.getMessage());
        }
        String[][] shorter = Arrays.copyOf(javaTables(), 2);
        assertThrows(UnsatisfiedLinkError.class, () -> NativeEngine.checkTables(lib, shorter));
    }
}
