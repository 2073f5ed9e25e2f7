// Where the later fragments of a datagram go. Only the first fragment carries the ports,
// so it is scheduled by its 5-tuple like any packet; the director then remembers
// (source, destination, identification, protocol) → (service, real server) and sends the
// later fragments the same way. Nothing is reassembled, so overlapping, tiny or lone
// fragments cost one lookup and can never crash or hold memory.
//
// The cache is direct-mapped over typed arrays: fixed size, no allocation, a colliding
// datagram overwrites the older one (whose later fragments then take the 3-tuple
// fallback in the data path). Entries live FRAGMENT_TTL_MS, as long as a reassembly
// timer would wait for them.
import { hash4 } from './flow-hash.js';

export const FRAGMENT_TTL_MS = 2000;
export const DEFAULT_FRAGMENT_CACHE_SLOTS = 4096;

export class FragmentCache {
  private readonly mask: number;
  private readonly src: Uint32Array;
  private readonly dst: Uint32Array;
  /** identification * 256 + protocol (IPv4: 16-bit id; IPv6: 32-bit). */
  private readonly idProto: Float64Array;
  private readonly svc: Int32Array;
  private readonly rs: Int32Array;
  private readonly expires: Float64Array;
  stored = 0;
  hits = 0;
  misses = 0;

  /** @param slots rounded up to a power of two (default 4096) */
  constructor(slots = DEFAULT_FRAGMENT_CACHE_SLOTS) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.src = new Uint32Array(n);
    this.dst = new Uint32Array(n);
    this.idProto = new Float64Array(n).fill(-1);
    this.svc = new Int32Array(n);
    this.rs = new Int32Array(n);
    this.expires = new Float64Array(n);
  }

  /** Remembers where the datagram (src, dst, id, proto) went; addresses as numbers (uint32 or an IPv6 hash/id), now in ms. */
  store(src: number, dst: number, id: number, proto: number, svcId: number, rsId: number, now: number): void {
    // Address ids of IPv6 (>= 2^32) keep their low 32 bits, which are unique among them.
    src >>>= 0;
    dst >>>= 0;
    const key = id * 256 + proto;
    const i = hash4(0x5f3a, src, dst, key, 0) & this.mask;
    this.src[i] = src;
    this.dst[i] = dst;
    this.idProto[i] = key;
    this.svc[i] = svcId;
    this.rs[i] = rsId;
    this.expires[i] = now + FRAGMENT_TTL_MS;
    this.stored++;
  }

  /** Slot of the datagram's entry, or -1 (absent, overwritten or expired). */
  lookup(src: number, dst: number, id: number, proto: number, now: number): number {
    src >>>= 0;
    dst >>>= 0;
    const key = id * 256 + proto;
    const i = hash4(0x5f3a, src, dst, key, 0) & this.mask;
    if (this.idProto[i] === key && this.src[i] === src && this.dst[i] === dst && this.expires[i] > now) {
      this.hits++;
      return i;
    }
    this.misses++;
    return -1;
  }

  serviceAt(slot: number): number {
    return this.svc[slot];
  }
  realServerAt(slot: number): number {
    return this.rs[slot];
  }
}
