// FTP through VS/NAT (IPVS's ip_vs_ftp): the control connection carries addresses as text,
// so the director rewrites them, and keeps the TCP sequence numbers right when the text
// changes length. Not yet wired into the data path (see README: Forwarding methods).
//   server → client  "227 Entering Passive Mode (10,0,0,7,p1,p2)"  → the VIP's numbers
//                    "229 Entering Extended Passive Mode (|||port|)" (no address: unchanged)
//   client → server  "PORT h1,h2,h3,h4,p1,p2" / "EPRT |1|addr|port|": the client's own
//                    address, unchanged by NAT; the data connection the server opens back
//                    goes to the client and is tied to this control connection's server.
// Pure functions over byte arrays; the data path would call them on a NAT control flow.

/** A parsed address line: the start and end of the address text in the payload, and its value. */
export interface FtpAddress {
  start: number;
  end: number;
  /** IPv4 as an unsigned 32-bit number (0 for EPSV, which names no address). */
  address: number;
  port: number;
}

const ASCII_0 = 48;

function isDigit(c: number): boolean {
  return c >= ASCII_0 && c <= ASCII_0 + 9;
}

/** Reads "h1,h2,h3,h4,p1,p2" at `off` (each 0..255); null when malformed. */
function readSix(buf: Uint8Array, off: number, end: number): { values: number[]; end: number } | null {
  const values: number[] = [];
  let i = off;
  for (let k = 0; k < 6; k++) {
    let v = 0;
    let digits = 0;
    while (i < end && isDigit(buf[i]) && digits < 3) {
      v = v * 10 + buf[i] - ASCII_0;
      i++;
      digits++;
    }
    if (digits === 0 || v > 255) return null;
    values.push(v);
    if (k < 5) {
      if (i >= end || buf[i] !== 0x2c) return null;
      i++;
    }
  }
  return { values, end: i };
}

function startsWith(buf: Uint8Array, off: number, end: number, text: string): boolean {
  if (end - off < text.length) return false;
  for (let k = 0; k < text.length; k++) {
    let c = buf[off + k];
    if (c >= 97 && c <= 122) c -= 32; // commands are case-insensitive
    if (c !== text.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * A server's "227 ... (h1,h2,h3,h4,p1,p2)" reply in payload[off..end): the address span,
 * or null when this is not a well-formed 227 line.
 */
export function parsePasvReply(buf: Uint8Array, off: number, end: number): FtpAddress | null {
  if (!startsWith(buf, off, end, '227')) return null;
  for (let i = off + 3; i < end; i++) {
    if (!isDigit(buf[i])) continue;
    const six = readSix(buf, i, end);
    if (six === null) return null;
    const v = six.values;
    return { start: i, end: six.end, address: ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0, port: (v[4] << 8) | v[5] };
  }
  return null;
}

/** A client's "PORT h1,h2,h3,h4,p1,p2" command: the address span, or null. */
export function parsePortCommand(buf: Uint8Array, off: number, end: number): FtpAddress | null {
  if (!startsWith(buf, off, end, 'PORT ')) return null;
  const six = readSix(buf, off + 5, end);
  if (six === null) return null;
  const v = six.values;
  return { start: off + 5, end: six.end, address: ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0, port: (v[4] << 8) | v[5] };
}

/** "229 ... (|||port|)": the port (EPSV names no address, so NAT leaves the line alone). */
export function parseEpsvReply(buf: Uint8Array, off: number, end: number): FtpAddress | null {
  if (!startsWith(buf, off, end, '229')) return null;
  for (let i = off + 3; i + 3 < end; i++) {
    if (buf[i] !== 0x7c || buf[i + 1] !== 0x7c || buf[i + 2] !== 0x7c) continue;
    let j = i + 3;
    let port = 0;
    const digitsStart = j;
    while (j < end && isDigit(buf[j]) && port <= 65535) port = port * 10 + buf[j++] - ASCII_0;
    if (j === digitsStart || j >= end || buf[j] !== 0x7c || port > 65535) return null;
    return { start: digitsStart, end: j, address: 0, port };
  }
  return null;
}

/** "EPRT |1|a.b.c.d|port|" (IPv4 only): the span of "a.b.c.d|port", or null. */
export function parseEprtCommand(buf: Uint8Array, off: number, end: number): FtpAddress | null {
  if (!startsWith(buf, off, end, 'EPRT |1|')) return null;
  let i = off + 8;
  let address = 0;
  for (let k = 0; k < 4; k++) {
    let v = 0;
    const s = i;
    while (i < end && isDigit(buf[i]) && i - s < 3) v = v * 10 + buf[i++] - ASCII_0;
    if (i === s || v > 255 || i >= end || buf[i] !== (k < 3 ? 0x2e : 0x7c)) return null;
    address = address * 256 + v;
    i++;
  }
  let port = 0;
  const s = i;
  while (i < end && isDigit(buf[i]) && port <= 65535) port = port * 10 + buf[i++] - ASCII_0;
  if (i === s || i >= end || buf[i] !== 0x7c || port > 65535) return null;
  return { start: off + 8, end: i, address, port };
}

/** The PASV text for an address and port: "h1,h2,h3,h4,p1,p2". */
export function formatPasvAddress(address: number, port: number): string {
  return `${address >>> 24},${(address >>> 16) & 255},${(address >>> 8) & 255},${address & 255},${port >>> 8},${port & 255}`;
}

/**
 * Replaces payload bytes [span.start, span.end) of `buf` (payload ending at `end`) by `text`,
 * returning the new payload as a fresh array and the length change (bytes, may be < 0).
 * Control plane of the helper: allocates (FTP control lines are rare and short).
 */
export function replaceSpan(buf: Uint8Array, off: number, end: number, span: FtpAddress, text: string): { payload: Uint8Array; delta: number } {
  const head = buf.subarray(off, span.start);
  const tail = buf.subarray(span.end, end);
  const mid = new TextEncoder().encode(text);
  const out = new Uint8Array(head.length + mid.length + tail.length);
  out.set(head, 0);
  out.set(mid, head.length);
  out.set(tail, head.length + mid.length);
  return { payload: out, delta: mid.length - (span.end - span.start) };
}

/**
 * The sequence-number offsets of one direction of a control connection (IPVS's
 * ip_vs_seq): once a rewrite changed a segment's length by `delta` at sequence `seq`, every
 * later sequence number in that direction moves by the sum of the deltas, and the other
 * direction's acknowledgements of them move back. 32-bit arithmetic throughout.
 */
export class FtpSeqShift {
  /** Sequence number (before the rewrite) from which `delta` applies, and the previous delta. */
  private initSeq = 0;
  private delta = 0;
  private previousDelta = 0;

  /** Records a rewrite of the segment starting at `seq` that changed its length by `change` bytes. */
  rewrote(seq: number, change: number): void {
    this.previousDelta = this.delta;
    this.initSeq = seq >>> 0;
    this.delta += change;
  }

  /** The sequence number to send for an original `seq` of this direction. */
  mapSeq(seq: number): number {
    const d = after(seq, this.initSeq) ? this.delta : this.previousDelta;
    return (seq + d) >>> 0;
  }

  /** The acknowledgement number the peer sent (in shifted space), mapped back to the original. */
  unmapAck(ack: number): number {
    const d = after(ack, (this.initSeq + this.delta) >>> 0) ? this.delta : this.previousDelta;
    return (ack - d) >>> 0;
  }
}

/** seq a is after b in 32-bit sequence space (RFC 793 comparison). */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * Data connections announced on a control connection: the server's PASV port (the client
 * will connect to VIP:port and must reach the control connection's server) and the client's
 * PORT (the server connects back, from its data port, to the client). Bounded: the newest
 * `capacity` expectations are kept.
 */
export class FtpExpectations {
  private readonly list: Array<{ client: number; port: number; rs: number; expires: number }> = [];

  constructor(private readonly capacity = 1024) {}

  /** After a 227/229 from server `rs` to `client`: its next connection to `port` goes to `rs`. */
  expect(client: number, port: number, rs: number, expires: number): void {
    if (this.list.length >= this.capacity) this.list.shift();
    this.list.push({ client, port, rs, expires });
  }

  /** The server a new connection from `client` to VIP:`port` is tied to, or -1 (consumed once). */
  take(client: number, port: number, now: number): number {
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i];
      if (e.expires <= now) {
        this.list.splice(i--, 1);
        continue;
      }
      if (e.client === client && e.port === port) {
        this.list.splice(i, 1);
        return e.rs;
      }
    }
    return -1;
  }

  get size(): number {
    return this.list.length;
  }
}
