// The director answers ICMP echo for its VIPs and its link address itself (configurable),
// turning the request into the reply in place: swap the addresses, type 8 → 0 with an
// RFC 1624 checksum update, TTL 64, fresh header checksum, Ethernet back to the kernel.
// IPv6 the same way: type 128 → 129, hop limit 64 (swapping the addresses leaves the
// pseudo-header sum as it was).
import { finalizeChecksum, sumBytes, updateChecksum16 } from '../wire/checksum.js';
import { copyMac } from '../wire/ethernet.js';
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST } from '../wire/icmpv6.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
const REPLY_TTL = 64;

/**
 * Rewrites the echo request at data[eth..] (IPv4 header at ip, hlen bytes; ICMP at icmp)
 * into its reply. The caller has checked that 8 ICMP bytes are present.
 */
export function makeEchoReplyInPlace(data: Uint8Array, eth: number, ip: number, hlen: number, icmp: number, ourMac: Uint8Array, kernelMac: Uint8Array): void {
  const oldWord = (data[icmp] << 8) | data[icmp + 1];
  const newWord = (ICMP_ECHO_REPLY << 8) | data[icmp + 1];
  const ck = updateChecksum16((data[icmp + 2] << 8) | data[icmp + 3], oldWord, newWord);
  data[icmp] = ICMP_ECHO_REPLY;
  data[icmp + 2] = ck >>> 8;
  data[icmp + 3] = ck;
  for (let k = 0; k < 4; k++) {
    const t = data[ip + 12 + k];
    data[ip + 12 + k] = data[ip + 16 + k];
    data[ip + 16 + k] = t;
  }
  data[ip + 8] = REPLY_TTL;
  data[ip + 10] = 0;
  data[ip + 11] = 0;
  const c = finalizeChecksum(sumBytes(data, ip, hlen));
  data[ip + 10] = c >>> 8;
  data[ip + 11] = c;
  copyMac(kernelMac, 0, data, eth);
  copyMac(ourMac, 0, data, eth + 6);
}

/** Rewrites the ICMPv6 echo request at data[eth..] (IPv6 header at ip, ICMPv6 at icmp) into its reply. */
export function makeEchoV6ReplyInPlace(data: Uint8Array, eth: number, ip: number, icmp: number, ourMac: Uint8Array, kernelMac: Uint8Array): void {
  for (let k = 0; k < 16; k++) {
    const t = data[ip + 8 + k];
    data[ip + 8 + k] = data[ip + 24 + k];
    data[ip + 24 + k] = t;
  }
  data[ip + 7] = REPLY_TTL;
  const ck = updateChecksum16((data[icmp + 2] << 8) | data[icmp + 3], (ICMPV6_ECHO_REQUEST << 8) | data[icmp + 1], (ICMPV6_ECHO_REPLY << 8) | data[icmp + 1]);
  data[icmp] = ICMPV6_ECHO_REPLY;
  data[icmp + 2] = ck >>> 8;
  data[icmp + 3] = ck;
  copyMac(kernelMac, 0, data, eth);
  copyMac(ourMac, 0, data, eth + 6);
}
