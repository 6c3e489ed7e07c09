package phi2j.runtime.internal;

import phi2j.runtime.StopReason;
import phi2j.runtime.TokenLogprob;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The one encoding of {@link EngineEvent}s, as native/src/engine.h lays it out: little-endian, each event led by
 * {@code u8 kind | i32 request id}. The native engine writes it in C++; {@link Writer} writes the same for the binding
 * and test engines; {@link #decode} reads it for the caller, and {@link #scan} walks it without decoding text for the
 * runner, which only routes and forwards the bytes.
 */
public final class EventCodec {
    public static final byte ADMITTED = 1;
    public static final byte TOKEN = 2;
    public static final byte DONE = 3;
    public static final byte FAILED = 4;
    /** The kinds by name, in code order from 1: checked against the native engine's own table when it loads. */
    public static final List<String> KIND_NAMES = List.of("ADMITTED", "TOKEN", "DONE", "FAILED");

    private EventCodec() {
    }

    /** Every event in {@code b} (from its position to its limit). */
    public static List<EngineEvent> decode(ByteBuffer b) {
        ByteBuffer in = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        List<EngineEvent> out = new ArrayList<>();
        while (in.hasRemaining()) {
            byte kind = in.get();
            int id = in.getInt();
            out.add(switch (kind) {
                case ADMITTED -> new EngineEvent.Admitted(id, in.getInt(), in.getInt());
                case TOKEN -> token(id, in);
                case DONE -> new EngineEvent.Done(id, StopReason.values()[in.getInt()], in.getInt(), in.getInt(), in.getInt(), in.getLong(),
                        in.getLong(), utf8(in));
                case FAILED -> new EngineEvent.Failed(id, Messages.ErrorKind.values()[in.getInt()], emptyToNull(utf8(in)), utf8(in));
                default -> throw new IllegalStateException("unknown engine event kind " + kind);
            });
        }
        return out;
    }

    private static EngineEvent.Token token(int id, ByteBuffer in) {
        int token = in.getInt();
        float logprob = in.getFloat();
        String piece = utf8(in);
        int n = in.getInt();
        List<TokenLogprob.Alternative> top = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int t = in.getInt();
            float lp = in.getFloat();
            top.add(new TokenLogprob.Alternative(t, utf8(in), lp));
        }
        return new EngineEvent.Token(id, token, logprob, piece, top, utf8(in));
    }

    /** What {@link #scan} reports of each event: its kind, request and place in the buffer. */
    public interface Visitor {
        void event(byte kind, int id, int start, int end);
    }

    /** Walks the events in {@code b} (position to limit) without decoding them. */
    public static void scan(ByteBuffer b, Visitor v) {
        ByteBuffer in = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            int start = in.position();
            byte kind = in.get();
            int id = in.getInt();
            switch (kind) {
                case ADMITTED -> in.position(in.position() + 8);
                case TOKEN -> {
                    in.position(in.position() + 8);
                    skip(in);
                    int n = in.getInt();
                    for (int i = 0; i < n; i++) {
                        in.position(in.position() + 8);
                        skip(in);
                    }
                    skip(in);
                }
                case DONE -> {
                    in.position(in.position() + 16 + 16);
                    skip(in);
                }
                case FAILED -> {
                    in.position(in.position() + 4);
                    skip(in);
                    skip(in);
                }
                default -> throw new IllegalStateException("unknown engine event kind " + kind);
            }
            v.event(kind, id, start, in.position());
        }
    }

    private static void skip(ByteBuffer in) {
        in.position(in.position() + 4 + in.getInt(in.position()));
    }

    private static String utf8(ByteBuffer in) {
        int n = in.getInt();
        byte[] bytes = new byte[n];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String emptyToNull(String s) {
        return s.isEmpty() ? null : s;
    }

    /** Writes events for engines written in Java (the binding's adapter, the protocol tests' fake). */
    public static final class Writer {
        private ByteBuffer buf = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);

        public Writer admitted(int id, int slot, int cachedTokens) {
            room(13);
            buf.put(ADMITTED).putInt(id).putInt(slot).putInt(cachedTokens);
            return this;
        }

        public Writer token(int id, int token, float logprob, String piece, List<TokenLogprob.Alternative> top, String text) {
            room(17);
            buf.put(TOKEN).putInt(id).putInt(token).putFloat(logprob);
            bytes(piece);
            buf.putInt(top.size());
            for (TokenLogprob.Alternative a : top) {
                room(8);
                buf.putInt(a.token()).putFloat((float) a.logprob());
                bytes(a.text());
            }
            bytes(text);
            return this;
        }

        public Writer done(int id, StopReason stop, int promptTokens, int promptEvaluated, int generatedTokens, long promptNanos,
                           long decodeNanos, String text) {
            room(37);
            buf.put(DONE).putInt(id).putInt(stop.ordinal()).putInt(promptTokens).putInt(promptEvaluated).putInt(generatedTokens)
                    .putLong(promptNanos).putLong(decodeNanos);
            bytes(text);
            return this;
        }

        public Writer failed(int id, Messages.ErrorKind kind, String field, String message) {
            room(9);
            buf.put(FAILED).putInt(id).putInt(kind.ordinal());
            bytes(field == null ? "" : field);
            bytes(message == null ? "" : message);
            return this;
        }

        /** The events written so far, as a buffer to read; the writer starts empty again. */
        public ByteBuffer take() {
            ByteBuffer out = ByteBuffer.wrap(Arrays.copyOf(buf.array(), buf.position())).order(ByteOrder.LITTLE_ENDIAN);
            buf.clear();
            return out;
        }

        private void bytes(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            room(4 + b.length);
            buf.putInt(b.length).put(b);
        }

        private void room(int n) {
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
        }
    }
}
