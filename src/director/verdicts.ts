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
] as const;

export type VerdictName = (typeof VERDICT_NAMES)[number];

export const VERDICT_COUNT = VERDICT_NAMES.length;

/**
 * drop-tx-failed is counted after the fact (the device refused a packet already counted
 * as forwarded), so it is excluded from the "one verdict per frame" sum.
 */
export const TX_FAILED_INDEX = VERDICT_COUNT - 1;
