// Every link of this network namespace with its flags, MTU, kind and addresses, read through
// rtnetlink (an RTM_GETLINK and an RTM_GETADDR dump) instead of `ip -j -d addr show`: the
// agent's /healthz reads it on every health check, and a child process per check forked the
// whole agent while it decapsulated (see netlink.ts).
import { formatAddressText } from '../wire/address-text.js';
import { addonNetlink, attributeString, attributeU32, buildNetlinkMessage, netlinkAttributes, netlinkDataMessages, netlinkSeq, NETLINK_ROUTE, NLM_F_DUMP, NLM_F_REQUEST, type NetlinkTransport } from './netlink.js';

/** linux/rtnetlink.h */
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
/** linux/if_link.h: IFLA_*, IFLA_INFO_* */
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
/** linux/if_addr.h: IFA_* */
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const AF_INET = 2;
const AF_INET6 = 10;
/** struct ifinfomsg and struct ifaddrmsg. */
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;

export interface LinkAddress {
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

export interface LinkInfo {
  name: string;
  up: boolean;
  loopback: boolean;
  mtu: number;
  /** The link kind from IFLA_INFO_KIND (tun, veth, ipip...), '' for plain devices. */
  kind: string;
  addresses: LinkAddress[];
}

/** An RTM_GETLINK dump request (every link, any family). */
export function linkDumpRequest(seq: number): Uint8Array {
  return buildNetlinkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, new Uint8Array(IFINFOMSG_LEN));
}

/** An RTM_GETADDR dump request (IPv4 and IPv6 addresses of every link). */
export function addressDumpRequest(seq: number): Uint8Array {
  return buildNetlinkMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, new Uint8Array(IFADDRMSG_LEN));
}

/** Links of an RTM_GETLINK dump answer by ifindex, in the kernel's order, without addresses. Throws NetlinkError on a refusal. */
export function parseLinkDump(answer: Uint8Array): Map<number, LinkInfo> {
  const out = new Map<number, LinkInfo>();
  for (const m of netlinkDataMessages(answer, 'dumping the links')) {
    if (m.type !== RTM_NEWLINK || m.payload.length < IFINFOMSG_LEN) continue;
    const dv = new DataView(m.payload.buffer, m.payload.byteOffset, IFINFOMSG_LEN);
    const index = dv.getInt32(4, true);
    const flags = dv.getUint32(8, true);
    const a = netlinkAttributes(m.payload, IFINFOMSG_LEN);
    const info = a.get(IFLA_LINKINFO);
    out.set(index, {
      name: attributeString(a.get(IFLA_IFNAME)),
      up: (flags & IFF_UP) !== 0,
      loopback: (flags & IFF_LOOPBACK) !== 0,
      mtu: attributeU32(a.get(IFLA_MTU)) ?? 0,
      kind: info ? attributeString(netlinkAttributes(info).get(IFLA_INFO_KIND)) : '',
      addresses: [],
    });
  }
  return out;
}

/**
 * IPv4 and IPv6 addresses of an RTM_GETADDR dump answer, with the ifindex they are on. The
 * local address is IFA_LOCAL where present (on a point-to-point link IFA_ADDRESS is the
 * peer), else IFA_ADDRESS, as `ip` shows it. Throws NetlinkError on a refusal.
 */
export function parseAddressDump(answer: Uint8Array): { index: number; address: LinkAddress }[] {
  const out: { index: number; address: LinkAddress }[] = [];
  for (const m of netlinkDataMessages(answer, 'dumping the addresses')) {
    if (m.type !== RTM_NEWADDR || m.payload.length < IFADDRMSG_LEN) continue;
    const dv = new DataView(m.payload.buffer, m.payload.byteOffset, IFADDRMSG_LEN);
    const af = m.payload[0];
    if (af !== AF_INET && af !== AF_INET6) continue;
    const a = netlinkAttributes(m.payload, IFADDRMSG_LEN);
    const bytes = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
    const family = af === AF_INET ? 4 : 6;
    if (!bytes || bytes.length < (family === 4 ? 4 : 16)) continue;
    let value = 0n;
    for (let i = 0; i < (family === 4 ? 4 : 16); i++) value = (value << 8n) | BigInt(bytes[i]);
    out.push({ index: dv.getUint32(4, true), address: { family, address: formatAddressText({ family, value }), prefixLength: m.payload[1] } });
  }
  return out;
}

/** Every link with its addresses, in ifindex order as the kernel dumps them. Rejects when netlink fails. */
export async function readLinks(transport: NetlinkTransport = addonNetlink): Promise<LinkInfo[]> {
  const [links, addresses] = await Promise.all([transport(NETLINK_ROUTE, linkDumpRequest(netlinkSeq())), transport(NETLINK_ROUTE, addressDumpRequest(netlinkSeq()))]);
  const byIndex = parseLinkDump(links);
  for (const { index, address } of parseAddressDump(addresses)) byIndex.get(index)?.addresses.push(address);
  return [...byIndex.values()];
}
