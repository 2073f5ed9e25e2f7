// DNS check (keepalived DNS_CHECK): one query over UDP; up when an answer with our id and
// RCODE NOERROR comes back. Replies with another id are ignored (a late answer to an
// earlier check), so only the matching one or the timeout decides.
import type { Checker, CheckResult } from '../check-result.js';
import type { DNS_QUERY_TYPES } from '../health-config.js';
import { udpExchange } from './udp.js';

export type DnsQueryType = (typeof DNS_QUERY_TYPES)[number];

/** RFC 1035 3.2.2 TYPE values (AAAA: RFC 3596). */
const QTYPE: Record<DnsQueryType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const HEADER_BYTES = 12;

export interface DnsCheckOptions {
  host: string;
  port: number;
  name: string;
  type: DnsQueryType;
  bindAddress?: string;
}

/**
 * A standard query (RD set) for `name` (dotted, "." for the root) of `type`, class IN.
 * Throws RangeError for a label over 63 bytes or a name over 255 (the config caps it first).
 */
export function encodeDnsQuery(id: number, name: string, type: DnsQueryType): Uint8Array {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const qname: number[] = [];
  for (const l of labels) {
    const bytes = new TextEncoder().encode(l);
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`DNS label "${l}" must be 1..63 bytes`);
    qname.push(bytes.length, ...bytes);
  }
  qname.push(0);
  if (qname.length > 255) throw new RangeError(`DNS name "${name}" is longer than 255 bytes`);
  const out = new Uint8Array(HEADER_BYTES + qname.length + 4);
  const v = new DataView(out.buffer);
  v.setUint16(0, id);
  v.setUint16(2, 0x0100); // QR=0 opcode=0 RD=1
  v.setUint16(4, 1); // QDCOUNT
  out.set(qname, HEADER_BYTES);
  v.setUint16(HEADER_BYTES + qname.length, QTYPE[type]);
  v.setUint16(HEADER_BYTES + qname.length + 2, 1); // class IN
  return out;
}

/** Verdict on a reply to query `id`: null when it is not a response to it (ignore it). */
export function judgeDnsReply(reply: Uint8Array, id: number): { ok: boolean; detail: string } | null {
  if (reply.length < HEADER_BYTES) return null;
  const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  if (v.getUint16(0) !== id || (v.getUint16(2) & 0x8000) === 0) return null;
  const rcode = v.getUint16(2) & 0x000f;
  const answers = v.getUint16(6);
  if (rcode !== 0) return { ok: false, detail: `answer ${RCODE_NAMES[rcode] ?? `RCODE ${rcode}`}` };
  return { ok: true, detail: `answer NOERROR, ${answers} record(s)` };
}

export class DnsChecker implements Checker {
  readonly kind = 'dns' as const;

  constructor(
    readonly options: DnsCheckOptions,
    private readonly randomId: () => number = () => Math.floor(Math.random() * 0x10000),
  ) {}

  async check(signal: AbortSignal): Promise<CheckResult> {
    const o = this.options;
    const id = this.randomId() & 0xffff;
    const r = await udpExchange(
      { host: o.host, port: o.port, bindAddress: o.bindAddress, payload: encodeDnsQuery(id, o.name, o.type), judgeReply: (reply) => judgeDnsReply(reply, id) },
      signal,
    );
    return { ...r, detail: r.detail.replace(/^udp /, `dns ${o.type} ${o.name} @`) };
  }
}
