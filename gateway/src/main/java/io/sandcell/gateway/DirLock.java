package io.sandcell.gateway;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * A gateway's claim on a directory it owns (the data dir, and the runtime dir when it is elsewhere): an
 * exclusive lock on {@code gateway.lock} inside it, held for the gateway's life and released by the
 * operating system when its process ends, however it ends. A second gateway on the same directory would
 * take the first one's kernels for leftovers of a crash and kill them, and remove their workspaces; it
 * refuses to start instead, naming the process that holds the lock.
 */
final class DirLock implements AutoCloseable {
    static final String FILE = "gateway.lock";
    /** The most of the holder's line read back for the message: the file is ours, but bounded all the same. */
    private static final int MAX_HOLDER_BYTES = 256;

    private final FileChannel channel;
    private final FileLock lock;

    private DirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of a directory, creating both as needed.
     *
     * @throws IOException naming the holder when another gateway has it
     */
    static DirLock acquire(Path dir, String what) throws IOException {
        Files.createDirectories(dir);
        FileChannel ch = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // another gateway in this very JVM holds it
        } catch (IOException e) {
            ch.close();
            throw new IOException("locking the " + what + " " + dir + ": " + e.getMessage(), e);
        }
        if (lock == null) {
            String holder = holder(ch);
            ch.close();
            throw new IOException("the " + what + " " + dir + " is in use by another gateway (" + holder
                    + "); stop that gateway, or give this one a " + what + " of its own");
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + ", since " + Instant.now() + "\n")
                .getBytes(StandardCharsets.UTF_8)), 0);
        ch.force(false);
        return new DirLock(ch, lock);
    }

    private static String holder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(MAX_HOLDER_BYTES);
            ch.read(b, 0);
            String line = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
            return line.isEmpty() ? "a process that has not written its id yet" : line.replaceAll("\\p{Cntrl}", "?");
        } catch (IOException e) {
            return "a process whose id could not be read";
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // the process's exit releases it anyway
        }
    }
}
