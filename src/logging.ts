import { writeSync } from 'node:fs';

/** Lines are gathered up to this many bytes (about a hundred access lines) before one write. */
const FLUSH_BYTES = 32 * 1024;
/** What the buffer holds before a full one waits for its file: room for a slow reader. */
const BUFFER_BYTES = 128 * 1024;
/** At low traffic a line waits at most this long for the buffer to fill. */
const FLUSH_EVERY_MS = 1000;
/** How long a full buffer sleeps before trying a refused (EAGAIN) write again. */
const RETRY_SLEEP_MS = 10;
/** The most bytes one UTF-16 code unit takes in UTF-8 (a surrogate pair is 4 bytes for 2 units). */
const MAX_UTF8_PER_UNIT = 3;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * pino's destination for the server's JSON lines: each line is encoded straight into one
 * reusable buffer, and the buffer goes to the file descriptor in writes of about 32 kB. pino's
 * own (sonic-boom) keeps the pending lines as one growing string and measures its UTF-8 length
 * again on every line, which flattened and re-encoded up to 4 kB per request: at `info` (an
 * access line per request) that and the line's strings were the largest allocation of a cached
 * read (decision 0044). The write stays synchronous (decision 0012). A descriptor that refuses
 * with EAGAIN (a non-blocking pipe whose reader is behind) keeps the rest for later; only a
 * full buffer waits for it, as sonic-boom's synchronous mode does. Any other write error (the
 * reader is gone) drops what is buffered: logging never fails a request.
 */
export class LineBuffer {
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;

  constructor(
    private readonly fd: number,
    private readonly flushBytes = FLUSH_BYTES,
  ) {}

  write(line: string): boolean {
    const room = line.length * MAX_UTF8_PER_UNIT;
    if (this.used + room > this.buffer.length) {
      this.flushSync();
      if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
    }
    this.used += this.buffer.write(line, this.used);
    if (this.used >= this.flushBytes) this.writeOut();
    return true;
  }

  /** pino's `logger.flush(callback)`: writes what the file takes now. */
  flush(callback?: (error?: Error) => void): void {
    this.writeOut();
    callback?.();
  }

  /** Writes everything buffered, waiting for a descriptor that refuses (EAGAIN) to take it. */
  flushSync(): void {
    while (!this.writeOut()) Atomics.wait(sleepCell, 0, 0, RETRY_SLEEP_MS);
  }

  /** Writes what the descriptor takes; true when nothing is left. */
  private writeOut(): boolean {
    let written = 0;
    try {
      while (written < this.used) written += writeSync(this.fd, this.buffer, written, this.used - written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') written = this.used;
    }
    if (written > 0) {
      this.buffer.copy(this.buffer, 0, written, this.used);
      this.used -= written;
    }
    return this.used === 0;
  }
}

let stdout: LineBuffer | null = null;

/**
 * Where the server's JSON log lines go: standard output, through one LineBuffer per process
 * (shared by every app built in it). A flush every second bounds how long a line waits at low
 * traffic, and the exit handler writes out the rest, also after an uncaught error; a SIGKILL or
 * a power cut loses at most the last second.
 */
export function logDestination(): LineBuffer {
  if (stdout === null) {
    const destination = new LineBuffer(1);
    setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
    process.once('exit', () => destination.flushSync());
    stdout = destination;
  }
  return stdout;
}
