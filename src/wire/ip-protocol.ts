// IANA "Assigned Internet Protocol Numbers": the IPv4 Protocol field and the IPv6 Next
// Header field share one registry.
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

/** Source port of the TCP or UDP header at buf[l4] (both start with the two ports), e.g. inside an ICMP quote. */
export function transportSourcePort(buf: Uint8Array, l4: number): number {
  return (buf[l4] << 8) | buf[l4 + 1];
}

/** Destination port of the TCP or UDP header at buf[l4]. */
export function transportDestinationPort(buf: Uint8Array, l4: number): number {
  return (buf[l4 + 2] << 8) | buf[l4 + 3];
}
