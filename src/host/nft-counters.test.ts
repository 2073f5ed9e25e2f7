// The guard's counter read through nfnetlink: the request and a kernel-shaped answer as
// hand-written bytes (linux/netfilter/nf_tables.h numbering). The real kernel's answer,
// compared with what `nft -j` prints, is in test/e2e/netlink-reads.test.ts.
import { describe, expect, it } from 'vitest';
import { NetlinkError } from './netlink.js';
import { nftCounterDumpRequest, parseNftCounters } from './nft-counters.js';

const hex = (...parts: string[]) => Uint8Array.from(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));

// Header fields are little-endian (host order); nfgenmsg's res_id and nftables' numbers big-endian.
const REQUEST = hex(
  '28000000 130a 0103 04030201 00000000', // len 40, NFT_MSG_GETOBJ of subsystem 10, REQUEST|DUMP, seq 0x01020304
  '01 00 0000', // nfgenmsg: NFPROTO_INET, NFNETLINK_V0, res_id 0
  '0c00 0100 767374756e5f7400', // NFTA_OBJ_TABLE "vstun_t\0"
  '0800 0300 00000001', // NFTA_OBJ_TYPE NFT_OBJECT_COUNTER
);

const ANSWER = hex(
  // NFT_MSG_NEWOBJ: counter syn_dropped, 12 packets, 480 bytes, with the pad attribute the kernel puts before a u64
  '58000000 120a 0200 04030201 00000000',
  '01000000',
  '0c00 0100 767374756e5f7400',
  '1000 0200 73796e5f64726f7070656400', // NFTA_OBJ_NAME "syn_dropped\0"
  '0800 0300 00000001',
  '2000 0480', // NFTA_OBJ_DATA, NLA_F_NESTED
  '0400 0300', // NFTA_COUNTER_PAD
  '0c00 0100 00000000000001e0', // NFTA_COUNTER_BYTES
  '0c00 0200 000000000000000c', // NFTA_COUNTER_PACKETS
  // a quota object "q" of the same table: not a counter, skipped
  '40000000 120a 0200 04030201 00000000',
  '01000000',
  '0c00 0100 767374756e5f7400',
  '0600 0200 71000000',
  '0800 0300 00000002',
  '1000 0480 0c00 0200 0000000000000063',
  // counter udp_dropped, 3 packets, 90 bytes
  '54000000 120a 0200 04030201 00000000',
  '01000000',
  '0c00 0100 767374756e5f7400',
  '1000 0200 7564705f64726f7070656400',
  '0800 0300 00000001',
  '1c00 0480',
  '0c00 0100 000000000000005a',
  '0c00 0200 0000000000000003',
  // a counter of table "other" (a kernel that ignored the filter): skipped
  '48000000 120a 0200 04030201 00000000',
  '01000000',
  '0a00 0100 6f7468657200 0000',
  '1000 0200 73796e5f64726f7070656400',
  '0800 0300 00000001',
  '1000 0480 0c00 0200 0000000000000009',
  // NLMSG_DONE, error 0
  '14000000 0300 0200 04030201 00000000 00000000',
);

describe('nftables counters through nfnetlink', () => {
  it('asks for the counter objects of one table of one family', () => {
    expect(Buffer.from(nftCounterDumpRequest('inet', 'vstun_t', 0x01020304)).toString('hex')).toBe(Buffer.from(REQUEST).toString('hex'));
  });

  it('reads the counters of the table by name, skipping other types and tables', () => {
    expect(parseNftCounters(ANSWER, 'vstun_t')).toEqual(
      new Map([
        ['syn_dropped', { packets: 12, bytes: 480 }],
        ['udp_dropped', { packets: 3, bytes: 90 }],
      ]),
    );
    expect(parseNftCounters(ANSWER, 'other')).toEqual(new Map([['syn_dropped', { packets: 9, bytes: 0 }]]));
  });

  it('turns a refusal into a NetlinkError with the errno name', () => {
    // NLMSG_ERROR, error -1 (EPERM), then the refused request's header.
    const refusal = hex('24000000 0200 0000 04030201 00000000', 'ffffffff', '28000000 130a 0103 04030201 00000000');
    const err = (() => {
      try {
        parseNftCounters(refusal, 'vstun_t');
      } catch (e) {
        return e as NetlinkError;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EPERM');
    expect(err.message).toContain('nftables table vstun_t');
  });
});
