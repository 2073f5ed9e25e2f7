// Every frame the director reads ends in exactly one verdict; each verdict has a counter
// slot (Float64Array indexed by the enum), so "frames in == sum of verdicts" always holds.
// Append-only: the names are exported to the control plane and metrics.

export const enum Verdict {
  Forward = 0,
  ReplyArp,
  ReplyIcmpEcho,
  ArpLearned,
  DropTruncated,
  DropEthertype,
  DropForeignMac,
  DropArpMalformed,
  DropArpIgnored,
  DropBadVersion,
  DropBadHeaderLength,
  DropBadTotalLength,
  DropIpipLoop,
  DropNotVip,
  DropToDirector,
  DropFragment,
  DropNoService,
  DropBadL4Header,
  DropTcpNotSyn,
  DropNoRealServer,
  DropTableFull,
  DropNoHeadroom,
  DropNoKernelMac,
  DropIcmpEchoDisabled,
  DropIcmpNoFlow,
  DropIcmpUnsupported,
  DropProtocol,
  DropTxFailed,
  /** A packet from the tunnel-check probe source with no pin (never scheduled). */
  DropProbeUnpinned,
  // Network correctness (PMTU, ICMP errors, fragments).
  ReplyIcmpTooBig,
  DropTooBigRateLimited,
  ForwardIcmpError,
  ForwardFragment,
  DropFragmentNoFlow,
  // IPv6.
  ReplyNdp,
  DropNdpIgnored,
  DropIpv6Unsupported,
  DropAddressTableFull,
  /** ARP or NDP claiming the kernel's side of the TAP at a MAC other than the TAP's own. */
  DropKernelMacSpoofed,
  // VS/NAT and VS/DR.
  /** A NAT server's reply (or ICMP error) rewritten back to VIP:vport. */
  ForwardNatReply,
  /** A NAT server's packet whose connection is gone (expired, evicted, -C). */
  DropNatReplyNoFlow,
  /** A DR server whose MAC is not known yet: an ARP request is on its way. */
  DropNoServerMac,
  /** An ICMP error about a NAT flow that could not be translated (quote too short, not TCP/UDP). */
  DropNatIcmpUntranslatable,
}

/** Stable names, index = Verdict. */
export const VERDICT_NAMES = [
  'forward',
  'reply-arp',
  'reply-icmp-echo',
  'arp-learned',
  'drop-truncated',
  'drop-ethertype',
  'drop-foreign-mac',
  'drop-arp-malformed',
  'drop-arp-ignored',
  'drop-bad-version',
  'drop-bad-header-length',
  'drop-bad-total-length',
  'drop-ipip-loop',
  'drop-not-vip',
  'drop-to-director',
  'drop-fragment',
  'drop-no-service',
  'drop-bad-l4-header',
  'drop-tcp-not-syn',
  'drop-no-real-server',
  'drop-table-full',
  'drop-no-headroom',
  'drop-no-kernel-mac',
  'drop-icmp-echo-disabled',
  'drop-icmp-no-flow',
  'drop-icmp-unsupported',
  'drop-protocol',
  'drop-tx-failed',
  'drop-probe-unpinned',
  'reply-icmp-too-big',
  'drop-too-big-rate-limited',
  'forward-icmp-error',
  'forward-fragment',
  'drop-fragment-no-flow',
  'reply-ndp',
  'drop-ndp-ignored',
  'drop-ipv6-unsupported',
  'drop-address-table-full',
  'drop-kernel-mac-spoofed',
  'forward-nat-reply',
  'drop-nat-reply-no-flow',
  'drop-no-server-mac',
  'drop-nat-icmp-untranslatable',
] as const;

export type VerdictName = (typeof VERDICT_NAMES)[number];

export const VERDICT_COUNT = VERDICT_NAMES.length;

/**
 * drop-tx-failed is counted after the fact (the device refused a packet already counted
 * as forwarded), so it is excluded from the "one verdict per frame" sum. Verdicts added after
 * it are per-frame again.
 */
export const TX_FAILED_INDEX = Verdict.DropTxFailed;

/** 1 for the verdicts whose frame is written out (forwards and replies), index = Verdict. */
export const VERDICT_SENDS: Uint8Array = (() => {
  const s = new Uint8Array(VERDICT_COUNT);
  for (const v of [Verdict.Forward, Verdict.ReplyArp, Verdict.ReplyIcmpEcho, Verdict.ReplyIcmpTooBig, Verdict.ForwardIcmpError, Verdict.ForwardFragment, Verdict.ReplyNdp, Verdict.ForwardNatReply]) s[v] = 1;
  return s;
})();
