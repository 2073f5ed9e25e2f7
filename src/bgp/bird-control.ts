// A client for BIRD 2's control socket (what birdc speaks): a Unix stream socket carrying
// text lines. BIRD greets with `0001 BIRD x.y ready.`; each command is one line; each reply
// line starts with a four-digit code followed by '-' (more lines follow) or ' ' (the last
// line), and a line starting with a space continues the previous code's text. Codes 0xxx
// say the action succeeded, 1xxx/2xxx are table rows and headings, 8xxx are run-time
// errors and 9xxx parse errors (BIRD's doc/reply_codes). One connection per command: the
// director talks to BIRD a few times a minute at most, and a fresh connection cannot be
// left half-read by an earlier timeout.
import net from 'node:net';

/** Stable codes of BirdControlError. */
export type BirdErrorCode = 'BIRD_UNREACHABLE' | 'BIRD_TIMEOUT' | 'BIRD_REPLY_TOO_LARGE' | 'BIRD_PROTOCOL' | 'BIRD_REFUSED';

export class BirdControlError extends Error {
  constructor(
    readonly code: BirdErrorCode,
    message: string,
    /** BIRD's reply code (BIRD_REFUSED only), e.g. 8002 for a config error. */
    readonly replyCode?: number,
  ) {
    super(message);
    this.name = 'BirdControlError';
  }
}

export interface BirdReplyLine {
  code: number;
  text: string;
}

export interface BirdReply {
  /** The final line's code (e.g. 3 for `0003 Reconfigured`). */
  code: number;
  lines: BirdReplyLine[];
}

/** Reply codes that mean `configure` worked (done, in progress, queued, nothing to do, confirmed). */
const CONFIGURE_OK = new Set([3, 4, 5, 18, 19, 20]);

/** Longest reply kept, in bytes: a `show` of a huge table is not what this client is for. */
const MAX_REPLY_BYTES = 1 << 20;

const FINAL = /^(\d{4}) (.*)$/;
const MORE = /^(\d{4})-(.*)$/;

/**
 * Parses reply lines as they arrive. Returns the reply once its final line is in `lines`,
 * null while more is needed. Throws BIRD_PROTOCOL on a line that is not BIRD's shape.
 */
export function parseBirdReply(lines: readonly string[]): BirdReply | null {
  const out: BirdReplyLine[] = [];
  for (const line of lines) {
    const fin = FINAL.exec(line);
    if (fin) {
      out.push({ code: Number(fin[1]), text: fin[2] });
      return { code: Number(fin[1]), lines: out };
    }
    const more = MORE.exec(line);
    if (more) out.push({ code: Number(more[1]), text: more[2] });
    else if (line.startsWith(' ') && out.length > 0) out.push({ code: out[out.length - 1].code, text: line.slice(1) });
    else if (line.startsWith('+')) continue; // spontaneous printout (log to the CLI), not part of the reply
    else throw new BirdControlError('BIRD_PROTOCOL', `BIRD's control socket sent a line that is not a reply: ${JSON.stringify(line.slice(0, 120))}`);
  }
  return null;
}

export interface BirdControlOptions {
  /** Path of BIRD's control socket (bird -s, birdc -s). */
  socketPath: string;
  /** Whole exchange, connect to last line (ms, default 10 000). */
  timeoutMs?: number;
}

/** Sends one command and resolves with BIRD's reply. Rejects with BirdControlError on transport trouble; a reply code >= 8000 is returned, not thrown (see `command`). */
export function birdExchange(opts: BirdControlOptions, command: string): Promise<BirdReply> {
  if (/[\r\n]/.test(command) || command.length === 0 || command.length > 4096) {
    return Promise.reject(new BirdControlError('BIRD_PROTOCOL', 'a BIRD command is one non-empty line of at most 4096 characters'));
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts.socketPath);
    let buf = '';
    let pending: string[] = [];
    let greeted = false;
    let done = false;
    const finish = (err: Error | null, reply?: BirdReply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new BirdControlError('BIRD_TIMEOUT', `BIRD's control socket ${opts.socketPath} did not answer "${command}" within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(new BirdControlError('BIRD_UNREACHABLE', `cannot talk to BIRD on ${opts.socketPath} (${err.code ?? err.message}): is bird running with -s ${opts.socketPath}?`)),
    );
    sock.on('close', () => finish(new BirdControlError('BIRD_PROTOCOL', `BIRD closed its control socket ${opts.socketPath} before answering "${command}"`)));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REPLY_BYTES) return finish(new BirdControlError('BIRD_REPLY_TOO_LARGE', `BIRD's reply to "${command}" exceeds ${MAX_REPLY_BYTES} bytes`));
      const nl = buf.lastIndexOf('\n');
      if (nl < 0) return;
      pending = pending.concat(buf.slice(0, nl).split('\n'));
      buf = buf.slice(nl + 1);
      try {
        const reply = parseBirdReply(pending);
        if (reply === null) return;
        if (!greeted) {
          // The greeting: 0001 ready (or 0016 access restricted, which still takes commands).
          greeted = true;
          pending = pending.slice(reply.lines.length);
          sock.write(`${command}\n`);
          const rest = parseBirdReply(pending);
          if (rest) finish(null, rest);
          return;
        }
        finish(null, reply);
      } catch (err) {
        finish(err as Error);
      }
    });
  });
}

/** Text of a reply's lines, for messages. */
export function replyText(reply: BirdReply): string {
  return reply.lines.map((l) => l.text).join(' / ');
}

/**
 * Asks BIRD to re-read its configuration (which includes the generated VIP file). Resolves
 * with BIRD's last line; rejects BIRD_REFUSED with BIRD's message (e.g. a syntax error,
 * reply code 8002) when the new configuration was not taken.
 */
export async function birdConfigure(opts: BirdControlOptions): Promise<string> {
  const reply = await birdExchange(opts, 'configure');
  if (!CONFIGURE_OK.has(reply.code)) throw new BirdControlError('BIRD_REFUSED', `BIRD refused to reconfigure (${String(reply.code).padStart(4, '0')}): ${replyText(reply)}`, reply.code);
  return reply.lines[reply.lines.length - 1].text;
}

/** The state column of `show protocols NAME` ("up", "start", "down"…), or null when BIRD has no such protocol. */
export async function birdProtocolState(opts: BirdControlOptions, name: string): Promise<string | null> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BirdControlError('BIRD_PROTOCOL', `"${name}" is not a BIRD protocol name`);
  const reply = await birdExchange(opts, `show protocols ${name}`);
  if (reply.code >= 8000) return null;
  const row = reply.lines.find((l) => l.code === 1002 && l.text.split(/\s+/)[0] === name);
  return row ? (row.text.split(/\s+/)[3] ?? null) : null;
}
