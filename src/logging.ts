import pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;
let stdout: Destination | null = null;

/** Lines are gathered up to this many bytes (about a dozen access lines) before one write. */
const BUFFER_BYTES = 4096;
/** At low traffic a line waits at most this long for the buffer to fill. */
const FLUSH_EVERY_MS = 1000;

/**
 * Where the server's JSON log lines go: standard output, gathered into writes of about 4 kB.
 * pino's default destination makes one write(2) per line, which at `info` (one access line per
 * request) is a sizable part of a cached read. The write stays synchronous: an asynchronous one
 * goes through libuv's thread pool, whose hand-off cost more CPU than the write it moved
 * (docs/decisions/0012). A flush every second bounds how long a line waits at low traffic, and
 * the exit handler writes out the rest, also after an uncaught error; a SIGKILL or a power cut
 * loses at most the last second. One destination per process, shared by every app built in it.
 */
export function logDestination(): Destination {
  if (stdout === null) {
    const destination = pino.destination({ dest: 1, sync: true, minLength: BUFFER_BYTES });
    setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
    process.once('exit', () => destination.flushSync());
    stdout = destination;
  }
  return stdout;
}
