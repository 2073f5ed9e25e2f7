// FTP through VS/NAT (what IPVS's ip_vs_ftp does): the control connection carries addresses
// as text, so the director reads them, rewrites the server's, and keeps the TCP sequence
// numbers right when the text changes length. This file holds the pieces that know FTP's
// text and the bounded state; src/director/pipeline/ftp-control.ts and ftp-data.ts apply
// them to packets.
//   server → client  "227 Entering Passive Mode (10,0,0,7,p1,p2)"  → the VIP's numbers;
//                    the client's next connection to VIP:port goes to this server
//                    "229 Entering Extended Passive Mode (|||port|)": no address, the line
//                    stays, the data connection is expected the same way
//   client → server  "PORT h1,h2,h3,h4,p1,p2" / "EPRT |1|addr|port|": the client's own
//                    address, which NAT does not change, so the line stays; the connection
//                    the server opens back to it (from port 20) is expected
// Everything here is allocation-free after construction: parsers fill a caller's FtpAddress,
// the tables are typed arrays of fixed capacity.

/** A parsed address line: the span of the address text in the payload, and its value. */
export interface FtpAddress {
  start: number;
  end: number;
  /** IPv4 as an unsigned 32-bit number (0 for EPSV, which names no address). */
  address: number;
  port: number;
}

export function newFtpAddress(): FtpAddress {
  return { start: 0, end: 0, address: 0, port: 0 };
}

const ASCII_0 = 48;
const COMMA = 0x2c;
const DOT = 0x2e;
const BAR = 0x7c;

function isDigit(c: number): boolean {
  return c >= ASCII_0 && c <= ASCII_0 + 9;
}

/**
 * Reads "h1,h2,h3,h4,p1,p2" (each 0..255, at most 3 digits) at buf[off..end) into `out`
 * (address, port, end); false when malformed.
 */
function readSix(buf: Uint8Array, off: number, end: number, out: FtpAddress): boolean {
  let i = off;
  let address = 0;
  let port = 0;
  for (let k = 0; k < 6; k++) {
    let v = 0;
    let digits = 0;
    while (i < end && isDigit(buf[i]) && digits < 3) {
      v = v * 10 + buf[i] - ASCII_0;
      i++;
      digits++;
    }
    if (digits === 0 || v > 255) return false;
    if (k < 4) address = address * 256 + v;
    else port = port * 256 + v;
    if (k < 5) {
      if (i >= end || buf[i] !== COMMA) return false;
      i++;
    }
  }
  out.start = off;
  out.end = i;
  out.address = address;
  out.port = port;
  return true;
}

/** Reads a decimal port (0..65535) at buf[off..end) followed by `stop`; the index of `stop`, or -1. */
function readPort(buf: Uint8Array, off: number, end: number, stop: number): number {
  let i = off;
  let port = 0;
  while (i < end && isDigit(buf[i]) && i - off < 5) port = port * 10 + buf[i++] - ASCII_0;
  if (i === off || i >= end || buf[i] !== stop || port > 65535) return -1;
  return i;
}

function decimalAt(buf: Uint8Array, off: number, end: number): number {
  let v = 0;
  for (let i = off; i < end; i++) v = v * 10 + buf[i] - ASCII_0;
  return v;
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
 * A server's "227 ... h1,h2,h3,h4,p1,p2 ..." reply in buf[off..end): the six numbers
 * (RFC 959 leaves the text around them free; the first digit after the code starts them).
 * Fills `out` and returns true, or false when this is not a well-formed 227 line.
 */
export function parsePasvReply(buf: Uint8Array, off: number, end: number, out: FtpAddress): boolean {
  if (!startsWith(buf, off, end, '227')) return false;
  for (let i = off + 3; i < end; i++) if (isDigit(buf[i])) return readSix(buf, i, end, out);
  return false;
}

/** A client's "PORT h1,h2,h3,h4,p1,p2" command: fills `out`, or false. */
export function parsePortCommand(buf: Uint8Array, off: number, end: number, out: FtpAddress): boolean {
  return startsWith(buf, off, end, 'PORT ') && readSix(buf, off + 5, end, out);
}

/** "229 ... (|||port|)" (RFC 2428): the port in `out` (address 0: EPSV names none), or false. */
export function parseEpsvReply(buf: Uint8Array, off: number, end: number, out: FtpAddress): boolean {
  if (!startsWith(buf, off, end, '229')) return false;
  for (let i = off + 3; i + 3 < end; i++) {
    if (buf[i] !== BAR || buf[i + 1] !== BAR || buf[i + 2] !== BAR) continue;
    const stop = readPort(buf, i + 3, end, BAR);
    if (stop < 0) return false;
    out.start = i + 3;
    out.end = stop;
    out.address = 0;
    out.port = decimalAt(buf, i + 3, stop);
    return true;
  }
  return false;
}

/** "EPRT |1|a.b.c.d|port|" (RFC 2428, IPv4 only): the span of "a.b.c.d|port" in `out`, or false. */
export function parseEprtCommand(buf: Uint8Array, off: number, end: number, out: FtpAddress): boolean {
  if (!startsWith(buf, off, end, 'EPRT |1|')) return false;
  let i = off + 8;
  let address = 0;
  for (let k = 0; k < 4; k++) {
    let v = 0;
    const s = i;
    while (i < end && isDigit(buf[i]) && i - s < 3) v = v * 10 + buf[i++] - ASCII_0;
    if (i === s || v > 255 || i >= end || buf[i] !== (k < 3 ? DOT : BAR)) return false;
    address = address * 256 + v;
    i++;
  }
  const stop = readPort(buf, i, end, BAR);
  if (stop < 0) return false;
  out.start = off + 8;
  out.end = stop;
  out.address = address;
  out.port = decimalAt(buf, i, stop);
  return true;
}

/** Longest PASV address text: "255,255,255,255,255,255". */
export const PASV_TEXT_MAX = 23;

/**
 * Writes the PASV text "h1,h2,h3,h4,p1,p2" of an IPv4 address (uint32) and port at out[0..];
 * returns its length in bytes. `out` holds at least PASV_TEXT_MAX bytes.
 */
export function writePasvText(out: Uint8Array, address: number, port: number): number {
  let n = 0;
  for (let k = 0; k < 6; k++) {
    const v = k < 4 ? (address >>> (24 - 8 * k)) & 255 : (port >>> (k === 4 ? 8 : 0)) & 255;
    if (v >= 100) out[n++] = ASCII_0 + ((v / 100) | 0);
    if (v >= 10) out[n++] = ASCII_0 + (((v / 10) | 0) % 10);
    out[n++] = ASCII_0 + (v % 10);
    if (k < 5) out[n++] = COMMA;
  }
  return n;
}

/** seq a is after b in 32-bit sequence space (RFC 793 comparison). */
export function seqAfter(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * The sequence-number offsets of the server's side of FTP control connections (IPVS's
 * ip_vs_seq), one record per connection whose text changed length. Once a rewrite changed
 * the segment at sequence `seq` by `change` bytes, every later sequence number the server
 * sends moves by the sum of the changes, and the client's acknowledgements of them move
 * back; a retransmission of an earlier segment keeps the offset it had. 32-bit arithmetic.
 */
export class FtpSeqShifts {
  private readonly initSeq: Uint32Array;
  private readonly delta: Int32Array;
  private readonly previousDelta: Int32Array;
  /** 1 once a rewrite was recorded (so a first rewrite at any seq counts). */
  private readonly set: Uint8Array;

  constructor(readonly capacity: number) {
    this.initSeq = new Uint32Array(capacity);
    this.delta = new Int32Array(capacity);
    this.previousDelta = new Int32Array(capacity);
    this.set = new Uint8Array(capacity);
  }

  /** Starts record r afresh (no offset). */
  reset(r: number): void {
    this.initSeq[r] = 0;
    this.delta[r] = 0;
    this.previousDelta[r] = 0;
    this.set[r] = 0;
  }

  /**
   * Records that the segment starting at original sequence `seq` changed length by
   * `change` bytes. A segment not after the last rewritten one (a retransmission of it) adds
   * nothing: its change is already counted.
   */
  rewrote(r: number, seq: number, change: number): void {
    if (this.set[r] === 1 && !seqAfter(seq, this.initSeq[r])) return;
    this.previousDelta[r] = this.delta[r];
    this.delta[r] += change;
    this.initSeq[r] = seq >>> 0;
    this.set[r] = 1;
  }

  /** The sequence number to send for the server's original `seq`. */
  mapSeq(r: number, seq: number): number {
    const d = seqAfter(seq, this.initSeq[r]) ? this.delta[r] : this.previousDelta[r];
    return (seq + d) >>> 0;
  }

  /** The client's acknowledgement `ack` (in the shifted space) mapped back to the server's. */
  unmapAck(r: number, ack: number): number {
    const d = seqAfter(ack, (this.initSeq[r] + this.delta[r]) >>> 0) ? this.delta[r] : this.previousDelta[r];
    return (ack - d) >>> 0;
  }
}

/** Which way an expected data connection is opened. */
export const FTP_PASSIVE = 0;
export const FTP_ACTIVE = 1;

/**
 * Data connections announced on control connections, waiting to be opened:
 *   passive (227/229): the client connects to VIP:port, which must reach the control
 *     connection's server;
 *   active (PORT/EPRT): the server connects from its data port to client:port.
 * Fixed capacity; at capacity the soonest-expiring one is replaced. Each is taken once.
 */
export class FtpExpectations {
  private readonly client: Uint32Array;
  private readonly port: Uint16Array;
  private readonly mode: Uint8Array;
  private readonly svcId: Uint16Array;
  private readonly rsId: Uint32Array;
  /** Milliseconds (monotonic); 0 = free. */
  private readonly expires: Float64Array;
  private count = 0;

  constructor(readonly capacity = 256) {
    this.client = new Uint32Array(capacity);
    this.port = new Uint16Array(capacity);
    this.mode = new Uint8Array(capacity);
    this.svcId = new Uint16Array(capacity);
    this.rsId = new Uint32Array(capacity);
    this.expires = new Float64Array(capacity);
  }

  /** Live or not yet swept expectations. */
  get size(): number {
    return this.count;
  }

  /** Expects a `mode` connection for (client, port) of service svcId's server rsId until `expires` (ms). */
  expect(mode: number, client: number, port: number, svcId: number, rsId: number, expires: number, now: number): void {
    let slot = -1;
    let soonest = -1;
    for (let i = 0; i < this.capacity; i++) {
      const e = this.expires[i];
      if (e === 0 || e <= now || (this.client[i] === client && this.port[i] === port && this.mode[i] === mode)) {
        slot = i;
        break;
      }
      if (soonest < 0 || e < this.expires[soonest]) soonest = i;
    }
    if (slot < 0) slot = soonest;
    else if (this.expires[slot] === 0) this.count++;
    this.client[slot] = client;
    this.port[slot] = port;
    this.mode[slot] = mode;
    this.svcId[slot] = svcId;
    this.rsId[slot] = rsId;
    this.expires[slot] = expires;
  }

  /**
   * The live expectation for a new `mode` connection of (client, port), removed from the
   * table; -1 when there is none. Read its service and server with serviceOf/serverOf
   * before the next expect().
   */
  take(mode: number, client: number, port: number, now: number): number {
    if (this.count === 0) return -1;
    for (let i = 0; i < this.capacity; i++) {
      const e = this.expires[i];
      if (e === 0 || this.client[i] !== client || this.port[i] !== port || this.mode[i] !== mode) continue;
      this.expires[i] = 0;
      this.count--;
      return e > now ? i : -1;
    }
    return -1;
  }

  serviceOf(i: number): number {
    return this.svcId[i];
  }
  serverOf(i: number): number {
    return this.rsId[i];
  }

  clear(): void {
    this.expires.fill(0);
    this.count = 0;
  }
}
