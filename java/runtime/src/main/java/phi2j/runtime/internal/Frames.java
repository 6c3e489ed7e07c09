package phi2j.runtime.internal;

import com.google.gson.Gson;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * The runner protocol: length-prefixed frames over a private Unix-domain socket.
 * <pre>
 * frame   = int32 length (of what follows) | uint8 type | payload
 * payload = EVENTS: engine events of one or more generations, in {@link EventCodec}'s encoding (as the engine wrote them)
 *           CANCEL: int32 generation id
 *           HEARTBEAT: int32 0 (runner to caller, every second)
 *           SHUTDOWN: empty
 *           every other type: one JSON object (a record of {@link Messages})
 * </pre>
 * The caller speaks first after the runner's HELLO, which carries the one-time token the caller handed the
 * runner on its standard input, so only the process the caller started can take the socket.
 */
public final class Frames {
    // caller -> runner
    public static final byte LOAD = 1;
    public static final byte GENERATE = 2;
    public static final byte CANCEL = 3;
    public static final byte SHUTDOWN = 4;
    public static final byte CALL = 5;
    // runner -> caller
    public static final byte HELLO = 10;
    public static final byte LOADED = 11;
    public static final byte ERROR = 14;
    public static final byte REPLY = 15;
    /** Engine events ({@link EventCodec}), copied as the engine wrote them. */
    public static final byte EVENTS = 16;
    /** A sign of life, every second, from a thread of its own: int32 0. A stopped or hung runner sends none. */
    public static final byte HEARTBEAT = 17;

    static final int MAX_FRAME = 64 << 20;
    static final Gson GSON = new Gson();

    /** One received frame. */
    public record Frame(byte type, byte[] payload) {
        public <T> T json(Class<T> type) {
            return GSON.fromJson(new String(payload, StandardCharsets.UTF_8), type);
        }

        public int id() {
            return ByteBuffer.wrap(payload).getInt();
        }

    }

    private final DataInputStream in;
    private byte[] scratch = new byte[256];
    private final DataOutputStream out;

    public Frames(SocketChannel channel) {
        this.in = new DataInputStream(new java.io.BufferedInputStream(new ChannelIn(channel), 1 << 16));
        this.out = new DataOutputStream(new java.io.BufferedOutputStream(new ChannelOut(channel), 1 << 16));
    }

    /** Blocks for the next frame; EOFException when the peer has gone. */
    public Frame read() throws IOException {
        int len = in.readInt();
        if (len < 1 || len > MAX_FRAME) {
            throw new IOException("bad frame length " + len);
        }
        byte type = in.readByte();
        byte[] payload = new byte[len - 1];
        in.readFully(payload);
        return new Frame(type, payload);
    }

    /** Something that writes frames. */
    public interface Io {
        void run() throws IOException;
    }

    /** Writes a frame without pushing it: the engines batch a decode step's frames and {@link #flush()} once. */
    public synchronized void writeJson(byte type, Object message) throws IOException {
        write(type, GSON.toJson(message).getBytes(StandardCharsets.UTF_8), -1);
    }

    /** An EVENTS frame whose body is {@code events}' remaining bytes, copied as they are. */
    public synchronized void writeEvents(ByteBuffer events) throws IOException {
        int n = events.remaining();
        out.writeInt(1 + n);
        out.writeByte(EVENTS);
        if (events.hasArray()) {
            out.write(events.array(), events.arrayOffset() + events.position(), n);
        } else {
            if (scratch.length < n) {
                scratch = new byte[Math.max(n, 2 * scratch.length)];
            }
            events.duplicate().get(scratch, 0, n);
            out.write(scratch, 0, n);
        }
    }

    public synchronized void flush() throws IOException {
        out.flush();
    }

    public synchronized void sendJson(byte type, Object message) throws IOException {
        send(type, GSON.toJson(message).getBytes(StandardCharsets.UTF_8), -1);
    }

    public synchronized void sendId(byte type, int id) throws IOException {
        send(type, new byte[0], id);
    }

    private void send(byte type, byte[] body, int id) throws IOException {
        write(type, body, id);
        out.flush();
    }

    private void write(byte type, byte[] body, int id) throws IOException {
        boolean withId = id >= 0;
        out.writeInt(1 + (withId ? 4 : 0) + body.length);
        out.writeByte(type);
        if (withId) {
            out.writeInt(id);
        }
        out.write(body);
    }

    /**
     * Reads straight from the channel. {@code Channels.newInputStream} would take the channel's blocking lock,
     * and a reader waiting for the next frame would then stall every writer on the same socket.
     */
    private static final class ChannelIn extends InputStream {
        private final SocketChannel ch;

        ChannelIn(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            int n = ch.read(ByteBuffer.wrap(b, off, len));
            if (n == 0) {
                throw new EOFException("socket returned no data");
            }
            return n;
        }
    }

    private static final class ChannelOut extends OutputStream {
        private final SocketChannel ch;

        ChannelOut(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }
}
