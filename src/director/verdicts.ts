// Every frame the director reads ends in exactly one verdict; each verdict has a counter
// slot (Float64Array indexed by the enum), so "frames in == sum of verdicts" always holds.
// Append-only: the names are exported to the control plane and metrics.

/**
 * The verdicts' stable names, index = counter slot. Append-only: the names are exported to
 * the control plane and metrics. The Verdict constants are derived from this list (the
 * name in PascalCase: 'drop-bad-l4-header' is Verdict.DropBadL4Header).
 */
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
  // A packet from the tunnel-check probe source with no pin (never scheduled).
  'drop-probe-unpinned',
  // Network correctness (PMTU, ICMP errors, fragments).
  'reply-icmp-too-big',
  'drop-too-big-rate-limited',
  'forward-icmp-error',
  'forward-fragment',
  'drop-fragment-no-flow',
  // IPv6.
  'reply-ndp',
  'drop-ndp-ignored',
  'drop-ipv6-unsupported',
  'drop-address-table-full',
  // ARP or NDP claiming the kernel's side of the TAP at a MAC other than the TAP's own.
  'drop-kernel-mac-spoofed',
  'forward-nat-reply',
  'drop-nat-reply-no-flow',
  'drop-no-server-mac',
  'drop-nat-icmp-untranslatable',
] as const;

export type VerdictName = (typeof VERDICT_NAMES)[number];

export const VERDICT_COUNT = VERDICT_NAMES.length;

type PascalCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Capitalize<Head>}${PascalCase<Tail>}` : Capitalize<S>;
type VerdictTable = {
  readonly [I in keyof typeof VERDICT_NAMES as I extends `${number}` ? PascalCase<(typeof VERDICT_NAMES)[I]> : never]: I extends `${infer N extends number}` ? N : never;
};

/** Verdict.DropTcpNotSyn is the index of 'drop-tcp-not-syn', and so on for every name. */
export const Verdict: VerdictTable = Object.freeze(
  Object.fromEntries(VERDICT_NAMES.map((name, i) => [name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join(''), i])),
) as VerdictTable;
/** A verdict: its counter slot. */
export type Verdict = VerdictTable[keyof VerdictTable];

/**
 * Names no frame gets any more, kept so that the slots after them stay where they are:
 * drop-fragment (later fragments now follow their first fragment, or end in
 * drop-fragment-no-flow) and drop-ipv6-unsupported (IPv6 is forwarded).
 */
export const RETIRED_VERDICTS: readonly VerdictName[] = ['drop-fragment', 'drop-ipv6-unsupported'];

/**
 * drop-tx-failed is counted after the fact (the device refused a packet already counted
 * as forwarded), so it is excluded from the "one verdict per frame" sum. Verdicts added after
 * it are per-frame again.
 */
export const TX_FAILED_INDEX = Verdict.DropTxFailed;

/** The verdicts whose frame is written out (forwards and replies). */
const SENDING: readonly VerdictName[] = ['forward', 'reply-arp', 'reply-icmp-echo', 'reply-icmp-too-big', 'forward-icmp-error', 'forward-fragment', 'reply-ndp', 'forward-nat-reply'];

/** 1 for the verdicts whose frame is written out, index = Verdict. */
export const VERDICT_SENDS: Uint8Array = (() => {
  const s = new Uint8Array(VERDICT_COUNT);
  for (const name of SENDING) s[VERDICT_NAMES.indexOf(name)] = 1;
  return s;
})();
