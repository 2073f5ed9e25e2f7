// The daemons' logger: pino's JSON lines over the non-blocking stdout sink, the "dropped N
// log lines" report wired back into the logger, and the drop counter for /metrics.
import { pino, type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { openLogSink, type LogSink } from './log-sink.js';

export interface DaemonLogger {
  log: Logger;
  sink: LogSink;
}

/** A pino logger named `name` at `level` writing to `sink` (stdout by default). */
export function createDaemonLogger(name: string, level: string, sink: LogSink = openLogSink()): DaemonLogger {
  const log = pino({ name, level }, sink);
  sink.onRecovered = (n) => log.warn({ dropped: n }, `dropped ${n} log lines`);
  return { log, sink };
}

/** Registers `${prefix}_log_lines_dropped_total` (e.g. vstun, vstun_agent), read at scrape time. */
export function registerLogMetrics(registry: Registry, prefix: string, sink: LogSink): void {
  new Counter({
    name: `${prefix}_log_lines_dropped_total`,
    help: 'Log lines dropped because the reader of stdout did not keep up (never waited for).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sink.dropped);
    },
  });
}
