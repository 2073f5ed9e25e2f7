// Netlink messages for the control plane's periodic reads of kernel state (links and their
// addresses, nftables counters) without forking a child process: a fork copies the page
// tables of the whole daemon, queue workers' tables included, and stalls every thread while
// it does. A request is built here, sent by the addon on the thread pool (native/netlink.c),
// and its answer walked here. Layout (netlink(7)): each message is a 16-byte header
//
//   0               1               2               3
//   +-------------------------------+-------------------------------+
//   |                     nlmsg_len (host order)                    |
//   +-------------------------------+-------------------------------+
//   |          nlmsg_type           |          nlmsg_flags          |
//   +-------------------------------+-------------------------------+
//   |                           nlmsg_seq                           |
//   +-------------------------------+-------------------------------+
//   |                           nlmsg_pid                           |
//   +-------------------------------+-------------------------------+
//
// then a family header and attributes ({u16 len, u16 type, value}, each padded to 4 bytes).
// Header fields are in host byte order (little-endian on every target we build for).
import os from 'node:os';
import { loadAddon } from '../native/addon.js';

export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

const HEADER = 16;
const EPROTO = 71;
/** Attribute type bits that are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER), not the type. */
const NLA_TYPE_MASK = 0x3fff;

/** Sends one request on `protocol` and resolves with the answer's messages (see native/netlink.c). */
export type NetlinkTransport = (protocol: number, request: Uint8Array) => Promise<Uint8Array>;

/** The addon's transport (thread pool; rejects with an errno-coded error). */
export const addonNetlink: NetlinkTransport = (protocol, request) => loadAddon().netlinkRequest(protocol, request);

export interface NetlinkAttribute {
  type: number;
  value: Uint8Array;
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  /** The bytes after the 16-byte header (family header and attributes). */
  payload: Uint8Array;
}

/** A kernel refusal (NLMSG_ERROR with a non-zero code): `code` is the errno name, e.g. ENOENT. */
export class NetlinkError extends Error {
  constructor(
    readonly errno: number,
    readonly code: string,
    what: string,
  ) {
    super(`${what}: the kernel answered ${code}`);
    this.name = 'NetlinkError';
  }
}

let nextSeq = 1;

/** A fresh sequence number for a request (never 0: the kernel's own notifications use 0). */
export function netlinkSeq(): number {
  nextSeq = nextSeq >= 0x7fffffff ? 1 : nextSeq + 1;
  return nextSeq;
}

const align4 = (n: number) => (n + 3) & ~3;

/** A NUL-terminated string attribute value. */
export function stringValue(text: string): Uint8Array {
  const bytes = Buffer.from(`${text}\0`, 'utf8');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** A big-endian u32 attribute value (nftables' numbers are in network order). */
export function be32Value(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, false);
  return out;
}

/** One request message: header, `familyHeader`, then `attributes` in order, each padded. */
export function buildNetlinkMessage(type: number, flags: number, seq: number, familyHeader: Uint8Array, attributes: readonly NetlinkAttribute[] = []): Uint8Array {
  let len = HEADER + align4(familyHeader.length);
  for (const a of attributes) len += align4(4 + a.value.length);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, 0, true);
  out.set(familyHeader, HEADER);
  let at = HEADER + align4(familyHeader.length);
  for (const a of attributes) {
    dv.setUint16(at, 4 + a.value.length, true);
    dv.setUint16(at + 2, a.type, true);
    out.set(a.value, at + 4);
    at += align4(4 + a.value.length);
  }
  return out;
}

/**
 * The messages of an answer, in order. A truncated or malformed tail ends the walk (what
 * came before is kept): the kernel does not send one, and a reader must not loop on it.
 */
export function netlinkMessages(answer: Uint8Array): NetlinkMessage[] {
  const dv = new DataView(answer.buffer, answer.byteOffset, answer.byteLength);
  const out: NetlinkMessage[] = [];
  for (let at = 0; at + HEADER <= answer.length; ) {
    const len = dv.getUint32(at, true);
    if (len < HEADER || at + len > answer.length) break;
    out.push({ type: dv.getUint16(at + 4, true), flags: dv.getUint16(at + 6, true), seq: dv.getUint32(at + 8, true), payload: answer.subarray(at + HEADER, at + len) });
    at += align4(len);
  }
  return out;
}

/** Attributes of `bytes` from `offset` on, by type (flag bits cleared; a later duplicate wins). Malformed tails are ignored. */
export function netlinkAttributes(bytes: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<number, Uint8Array>();
  for (let at = offset; at + 4 <= bytes.length; ) {
    const len = dv.getUint16(at, true);
    if (len < 4 || at + len > bytes.length) break;
    out.set(dv.getUint16(at + 2, true) & NLA_TYPE_MASK, bytes.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** Text of a NUL-terminated string attribute ('' when absent). */
export function attributeString(value: Uint8Array | undefined): string {
  if (!value) return '';
  const end = value.indexOf(0);
  return Buffer.from(value.buffer, value.byteOffset, end < 0 ? value.length : end).toString('utf8');
}

/** A host-order u32 attribute (rtnetlink's numbers); undefined when absent or short. */
export function attributeU32(value: Uint8Array | undefined): number | undefined {
  return value && value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) : undefined;
}

/** A big-endian u64 attribute as a number (exact below 2^53); undefined when absent or short. */
export function attributeBe64(value: Uint8Array | undefined): number | undefined {
  return value && value.length >= 8 ? Number(new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, false)) : undefined;
}

/**
 * The answer's data messages (NLMSG_DONE and acknowledgements left out). Throws NetlinkError
 * when the kernel refused the request (`what` names it in the message).
 */
export function netlinkDataMessages(answer: Uint8Array, what: string): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  for (const m of netlinkMessages(answer)) {
    if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) {
      // Both carry an int32: 0, or minus the errno that ended the request or the dump.
      const code = m.payload.length >= 4 ? new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true) : m.type === NLMSG_DONE ? 0 : -EPROTO;
      if (code === 0) break;
      throw new NetlinkError(-code, errnoName(-code), what);
    }
    out.push(m);
  }
  return out;
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === errno) return name;
  return `E${errno}`;
}
