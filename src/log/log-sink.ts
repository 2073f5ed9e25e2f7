// Where the daemons' log lines go: stdout, without ever waiting for its reader. pino's own
// destination writes synchronously and, when the reader of a pipe stalls (a stuck journald,
// a dead supervisor, a pager), retries on the main thread forever, which stops the data path
// and even SIGTERM (its "stopping" line never gets out). Here every write is non-blocking;
// what the reader cannot take yet waits in a bounded queue, retried on a timer; past the
// bound, whole lines are dropped and counted, and once the queue has drained a "dropped N
// log lines" report is emitted through onRecovered.
//
// Non-blocking without surprising anyone else: O_NONBLOCK belongs to the open file
// description, which a pipe or a terminal on stdout shares with the parent (a shell, a
// supervisor) and its other children. So a pipe, FIFO or terminal is opened again through
// /proc/self/fd/1, which gives this process a description of its own to make non-blocking.
// A socket cannot be reopened that way; it is driven by a libuv stream (non-blocking, like
// every socket Node opens) with its unsent bytes bounded. A regular file is written in place:
// file writes never wait for a reader.
import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import net from 'node:net';

export interface LogSinkOptions {
  /** Bytes of log lines held while the reader is slow; more are dropped. */
  maxQueuedBytes?: number;
  /** How often a stalled output is retried (ms). */
  retryMs?: number;
  /** Called, once the output has caught up, with the number of lines dropped meanwhile. */
  onRecovered?: (dropped: number) => void;
}

export const DEFAULT_LOG_QUEUE_BYTES = 128 * 1024;
const DEFAULT_RETRY_MS = 50;

/** The writable stream pino is given: write() takes one line and never blocks. */
export interface LogSink {
  write(line: string): void;
  /** Lines dropped since start (the …_log_lines_dropped_total metric). */
  readonly dropped: number;
  /** One last non-blocking attempt to send what is queued (before exit). */
  flush(): void;
  /** Sets the callback for "dropped N log lines" (the logger exists only after the sink). */
  onRecovered: ((dropped: number) => void) | undefined;
}

/** Opens the sink for `fd` (1: stdout) according to what it is: see the file comment. */
export function openLogSink(fd = 1, opts: LogSinkOptions = {}): LogSink {
  let kind: 'file' | 'socket' | 'reopen' = 'reopen';
  try {
    const st = fstatSync(fd);
    kind = st.isFile() ? 'file' : st.isSocket() ? 'socket' : 'reopen';
  } catch {
    /* a closed fd: writes will fail and be counted */
  }
  if (kind === 'socket') return new SocketLogSink(fd, opts);
  if (kind === 'file') return new FdLogSink(fd, opts);
  try {
    return new FdLogSink(openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY), opts);
  } catch {
    // A FIFO whose reader is gone (ENXIO) or no /proc: writes fail fast (EPIPE) and are counted.
    return new FdLogSink(fd, opts);
  }
}

abstract class BaseLogSink implements LogSink {
  dropped = 0;
  protected droppedSinceReport = 0;
  onRecovered: ((dropped: number) => void) | undefined;
  protected readonly maxQueuedBytes: number;

  constructor(opts: LogSinkOptions) {
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_LOG_QUEUE_BYTES;
    this.onRecovered = opts.onRecovered;
  }

  abstract write(line: string): void;
  abstract flush(): void;

  protected drop(): void {
    this.dropped++;
    this.droppedSinceReport++;
  }

  /** The output caught up: say how much was lost (the report is itself a log line). */
  protected caughtUp(): void {
    const n = this.droppedSinceReport;
    if (n === 0) return;
    this.droppedSinceReport = 0;
    this.onRecovered?.(n);
  }
}

/** A non-blocking fd (own description of a pipe, FIFO or terminal) or a regular file. */
class FdLogSink extends BaseLogSink {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly retryMs: number;

  constructor(
    private readonly fd: number,
    opts: LogSinkOptions,
  ) {
    super(opts);
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
  }

  write(line: string): void {
    const buf = Buffer.from(line);
    if (this.queue.length === 0) {
      const n = this.tryWrite(buf);
      if (n === buf.length) this.caughtUp();
      if (n < 0 || n === buf.length) return;
      // Keep the rest of a partly written line whatever the bound: a cut line would corrupt the next one.
      this.enqueue(n === 0 ? buf : buf.subarray(n));
      return;
    }
    if (this.queuedBytes + buf.length > this.maxQueuedBytes) this.drop();
    else this.enqueue(buf);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length) {
      const head = this.queue[0];
      const n = this.tryWrite(head);
      if (n === 0) break;
      this.queue.shift();
      this.queuedBytes -= head.length;
      if (n > 0 && n < head.length) {
        this.queue.unshift(head.subarray(n));
        this.queuedBytes += head.length - n;
        break;
      }
    }
    if (this.queue.length) this.schedule();
    else this.caughtUp();
  }

  private enqueue(buf: Buffer): void {
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.retryMs);
    this.timer.unref();
  }

  /** Bytes written (0: the reader is full, try later), or -1: the line is lost (counted). */
  private tryWrite(buf: Buffer): number {
    try {
      return writeSync(this.fd, buf, 0, buf.length);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      this.drop();
      return -1;
    }
  }
}

/** A socket on stdout (e.g. journald's stream): a libuv stream with its unsent bytes bounded. */
class SocketLogSink extends BaseLogSink {
  private readonly sock: net.Socket;

  constructor(fd: number, opts: LogSinkOptions) {
    super(opts);
    this.sock = new net.Socket({ fd, readable: false, writable: true });
    this.sock.on('error', () => {});
    this.sock.on('drain', () => this.caughtUp());
    this.sock.unref();
  }

  write(line: string): void {
    if (this.sock.destroyed || this.sock.writableLength + line.length > this.maxQueuedBytes) this.drop();
    else this.sock.write(line);
  }

  flush(): void {
    /* libuv sends as the socket allows; nothing can be forced without waiting */
  }
}
