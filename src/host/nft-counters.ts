// The named counters of one nftables table, read through nfnetlink (NFT_MSG_GETOBJ dump of
// counter objects) instead of `nft -j list counters`: the guard reads its drop counters once
// a second, and a child process per read forked the whole director (see netlink.ts).
import { addonNetlink, attributeBe64, attributeString, be32Value, buildNetlinkMessage, netlinkAttributes, netlinkDataMessages, netlinkSeq, NETLINK_NETFILTER, NLM_F_DUMP, NLM_F_REQUEST, stringValue, type NetlinkTransport } from './netlink.js';

/** nfnetlink subsystem of nf_tables; a message type is (subsystem << 8) | message. */
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETOBJ = 19;
const NFT_MSG_NEWOBJ = 18;
const NFNETLINK_V0 = 0;
/** linux/netfilter/nf_tables.h: enum nft_object_attributes. */
const NFTA_OBJ_TABLE = 1;
const NFTA_OBJ_NAME = 2;
const NFTA_OBJ_TYPE = 3;
const NFTA_OBJ_DATA = 4;
const NFT_OBJECT_COUNTER = 1;
/** enum nft_counter_attributes. */
const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;

/** nftables families (NFPROTO_*) by the name `nft` uses. */
export const NFT_FAMILY = { ip: 2, ip6: 10, inet: 1, arp: 3, bridge: 7, netdev: 5 } as const;
export type NftFamily = keyof typeof NFT_FAMILY;

export interface NftCounter {
  packets: number;
  bytes: number;
}

/** The dump request for the counter objects of `family` table `table` (the kernel filters by both). */
export function nftCounterDumpRequest(family: NftFamily, table: string, seq: number): Uint8Array {
  // struct nfgenmsg: family, version, res_id (big-endian, 0).
  const nfgen = Uint8Array.of(NFT_FAMILY[family], NFNETLINK_V0, 0, 0);
  return buildNetlinkMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ, NLM_F_REQUEST | NLM_F_DUMP, seq, nfgen, [
    { type: NFTA_OBJ_TABLE, value: stringValue(table) },
    { type: NFTA_OBJ_TYPE, value: be32Value(NFT_OBJECT_COUNTER) },
  ]);
}

/**
 * Counter objects of `table` in a dump answer, by name. Objects of other tables or types
 * (an old kernel that ignores the filter) are skipped. Throws NetlinkError when the kernel
 * refused (ENOENT: no such table).
 */
export function parseNftCounters(answer: Uint8Array, table: string): Map<string, NftCounter> {
  const out = new Map<string, NftCounter>();
  for (const m of netlinkDataMessages(answer, `reading the counters of nftables table ${table}`)) {
    if (m.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWOBJ)) continue;
    const a = netlinkAttributes(m.payload, 4);
    const type = a.get(NFTA_OBJ_TYPE);
    if (attributeString(a.get(NFTA_OBJ_TABLE)) !== table || !type || type.length < 4 || new DataView(type.buffer, type.byteOffset, 4).getUint32(0, false) !== NFT_OBJECT_COUNTER) continue;
    const data = a.get(NFTA_OBJ_DATA);
    if (!data) continue;
    const c = netlinkAttributes(data);
    out.set(attributeString(a.get(NFTA_OBJ_NAME)), { packets: attributeBe64(c.get(NFTA_COUNTER_PACKETS)) ?? 0, bytes: attributeBe64(c.get(NFTA_COUNTER_BYTES)) ?? 0 });
  }
  return out;
}

/** Reads the counters of `family` table `table` (asynchronous, no child process). Rejects on failure. */
export async function readNftCounters(family: NftFamily, table: string, transport: NetlinkTransport = addonNetlink): Promise<Map<string, NftCounter>> {
  return parseNftCounters(await transport(NETLINK_NETFILTER, nftCounterDumpRequest(family, table, netlinkSeq())), table);
}
