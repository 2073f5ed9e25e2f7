// Per-packet service lookup over typed arrays. Addresses are ids above 2^31 for half of
// IPv4 and all of IPv6, and a Map keyed by such a number boxes the key as a heap number
// on every get: one allocation per packet. Here the key is compared in place, so a lookup
// allocates nothing. The index is rebuilt whole on every control-plane change (a handful
// of services), so the data path never sees a deletion.
import { mix32 } from './flow-hash.js';

const EMPTY = -1;

export interface ServiceIndexEntry {
  /** Protocol number, or 0 for an address-only entry (the VIP set). */
  protocol: number;
  /** Address id (IPv4 as uint32, IPv6 as 2^32 + index). */
  address: number;
  port: number;
  /** The value looked up: a service id, or any non-negative number. */
  value: number;
}

export class ServiceIndex {
  private addresses = new Float64Array(8);
  private protoPorts = new Int32Array(8);
  private values = new Int32Array(8).fill(EMPTY);
  private mask = 7;

  /** Replaces the whole content; capacity is at least twice the entry count. */
  rebuild(entries: Iterable<ServiceIndexEntry>): void {
    const list = [...entries];
    let size = 8;
    while (size < list.length * 2) size *= 2;
    this.addresses = new Float64Array(size);
    this.protoPorts = new Int32Array(size);
    this.values = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (const e of list) {
      const pp = (e.protocol << 16) | e.port;
      let i = slotHash(pp, e.address) & this.mask;
      while (this.values[i] !== EMPTY && !(this.addresses[i] === e.address && this.protoPorts[i] === pp)) i = (i + 1) & this.mask;
      this.addresses[i] = e.address;
      this.protoPorts[i] = pp;
      this.values[i] = e.value;
    }
  }

  /** The value stored for (protocol, address, port), or -1. Allocation-free. */
  get(protocol: number, address: number, port: number): number {
    const pp = (protocol << 16) | port;
    const mask = this.mask;
    const values = this.values;
    let i = slotHash(pp, address) & mask;
    for (;;) {
      const v = values[i];
      if (v === EMPTY) return EMPTY;
      if (this.addresses[i] === address && this.protoPorts[i] === pp) return v;
      i = (i + 1) & mask;
    }
  }
}

/** Hash of (protocol<<16|port, address id); the id may exceed 2^32 (IPv6), hence lo/hi. */
function slotHash(pp: number, address: number): number {
  const lo = address >>> 0;
  const hi = ((address - lo) / 4294967296) | 0;
  return mix32((lo ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(pp, 0x85ebca6b)) >>> 0);
}
