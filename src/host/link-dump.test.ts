// Links and addresses through rtnetlink: the two dump requests and kernel-shaped answers as
// hand-written bytes (linux/rtnetlink.h, if_link.h, if_addr.h numbering), and the real
// kernel of this process's namespace against `ip -j -d addr show`. A namespace with links of
// every kind the checks look at is in test/e2e/netlink-reads.test.ts.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseIpAddrJson } from '../agent/host-facts.js';
import { addressDumpRequest, linkDumpRequest, parseAddressDump, parseLinkDump, readLinks } from './link-dump.js';
import { NETLINK_ROUTE } from './netlink.js';

const hex = (...parts: string[]) => Uint8Array.from(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));
const DONE = (seq: string) => hex(`14000000 0300 0200 ${seq} 00000000 00000000`);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

const LINKS = concat(
  hex(
    // RTM_NEWLINK lo: ifinfomsg { AF_UNSPEC, ARPHRD_LOOPBACK, index 1, UP|LOOPBACK|RUNNING|LOWER_UP }
    '30000000 1000 0200 07000000 00000000',
    '00 00 0403 01000000 49000100 00000000',
    '0700 0300 6c6f0000', // IFLA_IFNAME "lo\0" (+1 pad byte)
    '0800 0400 00000100', // IFLA_MTU 65536
    // RTM_NEWLINK tun0: ARPHRD_NONE, index 5, down, MTU 1480, IFLA_LINKINFO { IFLA_INFO_KIND "tun" }
    '40000000 1000 0200 07000000 00000000',
    '00 00 feff 05000000 00000000 00000000',
    '0900 0300 74756e3000000000',
    '0800 0400 c8050000',
    '0c00 1280 0800 0100 74756e00',
  ),
  DONE('07000000'),
);

const ADDRESSES = concat(
  hex(
    // RTM_NEWADDR 127.0.0.1/8 on 1: ifaddrmsg { AF_INET, 8, PERMANENT, host scope, 1 }, IFA_ADDRESS, IFA_LOCAL
    '28000000 1400 0200 08000000 00000000',
    '02 08 80 fe 01000000',
    '0800 0100 7f000001',
    '0800 0200 7f000001',
    // point to point on 5: local 10.1.0.1/32, peer (IFA_ADDRESS) 10.1.0.2
    '28000000 1400 0200 08000000 00000000',
    '02 20 80 00 05000000',
    '0800 0100 0a010002',
    '0800 0200 0a010001',
    // 2001:db8::1/64 on 5 (IFA_ADDRESS only)
    '2c000000 1400 0200 08000000 00000000',
    '0a 40 80 00 05000000',
    '1400 0100 20010db8000000000000000000000001',
    // 10.9.9.9/24 on 9, a link gone between the two dumps
    '28000000 1400 0200 08000000 00000000',
    '02 18 80 00 09000000',
    '0800 0100 0a090909',
    '0800 0200 0a090909',
  ),
  DONE('08000000'),
);

describe('links and addresses through rtnetlink', () => {
  it('asks for a dump of every link and of every address', () => {
    expect(Buffer.from(linkDumpRequest(7)).toString('hex')).toBe(Buffer.from(hex('20000000 1200 0103 07000000 00000000', '00'.repeat(16))).toString('hex'));
    expect(Buffer.from(addressDumpRequest(8)).toString('hex')).toBe(Buffer.from(hex('18000000 1600 0103 08000000 00000000', '00'.repeat(8))).toString('hex'));
  });

  it('reads name, flags, MTU and kind of each link, and the local address of each address', () => {
    expect([...parseLinkDump(LINKS)]).toEqual([
      [1, { name: 'lo', up: true, loopback: true, mtu: 65536, kind: '', addresses: [] }],
      [5, { name: 'tun0', up: false, loopback: false, mtu: 1480, kind: 'tun', addresses: [] }],
    ]);
    expect(parseAddressDump(ADDRESSES)).toEqual([
      { index: 1, address: { family: 4, address: '127.0.0.1', prefixLength: 8 } },
      { index: 5, address: { family: 4, address: '10.1.0.1', prefixLength: 32 } },
      { index: 5, address: { family: 6, address: '2001:db8::1', prefixLength: 64 } },
      { index: 9, address: { family: 4, address: '10.9.9.9', prefixLength: 24 } },
    ]);
  });

  it('joins the two dumps by ifindex, over the route protocol, dropping addresses of vanished links', async () => {
    const asked: number[] = [];
    const links = await readLinks(async (protocol, request) => {
      asked.push(protocol);
      const type = new DataView(request.buffer, request.byteOffset).getUint16(4, true);
      return type === 18 ? LINKS : ADDRESSES;
    });
    expect(asked).toEqual([NETLINK_ROUTE, NETLINK_ROUTE]);
    expect(links).toEqual([
      { name: 'lo', up: true, loopback: true, mtu: 65536, kind: '', addresses: [{ family: 4, address: '127.0.0.1', prefixLength: 8 }] },
      {
        name: 'tun0',
        up: false,
        loopback: false,
        mtu: 1480,
        kind: 'tun',
        addresses: [
          { family: 4, address: '10.1.0.1', prefixLength: 32 },
          { family: 6, address: '2001:db8::1', prefixLength: 64 },
        ],
      },
    ]);
  });

  it('reads this namespace as `ip -j -d addr show` prints it (the real kernel)', async () => {
    // Two reads of each: a link that comes or goes between them (other processes share the host) retries once.
    for (let attempt = 0; ; attempt++) {
      const ip = parseIpAddrJson(execFileSync('ip', ['-j', '-d', 'addr', 'show'], { timeout: 60_000, encoding: 'utf8' }));
      const ours = await readLinks();
      const again = parseIpAddrJson(execFileSync('ip', ['-j', '-d', 'addr', 'show'], { timeout: 60_000, encoding: 'utf8' }));
      if (JSON.stringify(ip) !== JSON.stringify(again) && attempt < 3) continue;
      expect(ours).toEqual(ip);
      expect(ours.find((l) => l.loopback)?.name).toBe('lo');
      break;
    }
  });
});
