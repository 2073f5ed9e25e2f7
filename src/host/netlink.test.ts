// Netlink framing: the message builder against hand-written bytes, the walkers on truncated
// and malformed input (they stop, never loop or throw), refusals as errno-named errors, and
// the addon's transport: argument checks and one real exchange with the kernel.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../native/addon.js';
import { attributeBe64, attributeString, attributeU32, buildNetlinkMessage, netlinkAttributes, netlinkDataMessages, NetlinkError, netlinkMessages, NETLINK_ROUTE, NLM_F_DUMP, NLM_F_REQUEST } from './netlink.js';

const hex = (...parts: string[]) => Uint8Array.from(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('netlink framing', () => {
  it('builds header, family header and padded attributes', () => {
    const m = buildNetlinkMessage(0x1234, NLM_F_REQUEST | NLM_F_DUMP, 0xa0b0c0d0, Uint8Array.of(1, 2, 3), [
      { type: 7, value: Uint8Array.of(0xaa) },
      { type: 0x8008, value: Uint8Array.of(1, 2, 3, 4) },
    ]);
    // len 36; the 3-byte family header and the 1-byte value are padded to 4
    expect(toHex(m)).toBe(toHex(hex('24000000 3412 0103 d0c0b0a0 00000000', '010203 00', '0500 0700 aa 000000', '0800 0880 01020304')));
  });

  it('walks messages and attributes, stopping at a truncated or impossible tail', () => {
    const two = hex('14000000 1000 0200 01000000 00000000 aabbccdd', '11000000 1100 0000 02000000 00000000 ee 000000');
    expect(netlinkMessages(two).map((m) => [m.type, m.seq, toHex(m.payload)])).toEqual([
      [0x10, 1, 'aabbccdd'],
      [0x11, 2, 'ee'],
    ]);
    expect(netlinkMessages(two.subarray(0, 30))).toHaveLength(1); // second header cut
    expect(netlinkMessages(hex('0c000000 1000 0000 01000000 00000000'))).toHaveLength(0); // len below the header
    expect(netlinkMessages(hex('ff000000 1000 0000 01000000 00000000'))).toHaveLength(0); // len past the end
    const attrs = netlinkAttributes(hex('0600 0180 6869 0000', '0800 0200 2a000000', '0300 0300', 'ff00 0400 00'));
    expect([...attrs.keys()]).toEqual([1, 2]); // nested flag cleared; a 3-byte and an overlong attribute end the walk
    expect(attributeString(attrs.get(1))).toBe('hi');
    expect(attributeU32(attrs.get(2))).toBe(42);
    expect(attributeU32(Uint8Array.of(1))).toBeUndefined();
    expect(attributeBe64(hex('001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(attributeString(undefined)).toBe('');
  });

  it('ends at NLMSG_DONE or an acknowledgement, and names the errno of a refusal or a failed dump', () => {
    const data = hex('14000000 1000 0200 01000000 00000000 01020304');
    expect(netlinkDataMessages(Uint8Array.from([...data, ...hex('14000000 0300 0200 01000000 00000000 00000000'), ...data]), 'x')).toHaveLength(1);
    expect(netlinkDataMessages(Uint8Array.from([...data, ...hex('24000000 0200 0000 01000000 00000000 00000000', '00'.repeat(16))]), 'x')).toHaveLength(1);
    const refused = thrown(() => netlinkDataMessages(hex('24000000 0200 0000 01000000 00000000 edffffff', '00'.repeat(16)), 'dumping the links'));
    expect(refused).toBeInstanceOf(NetlinkError);
    expect(refused.code).toBe('ENODEV'); // -19
    expect(refused.message).toBe('dumping the links: the kernel answered ENODEV');
    expect(thrown(() => netlinkDataMessages(hex('14000000 0300 0200 01000000 00000000 fcffffff'), 'x')).code).toBe('EINTR'); // a dump ended by -4
  });
});

describe('the addon transport', () => {
  const addon = loadAddon();

  it('refuses a request whose nlmsg_len is not its length, or that is too short or too long', () => {
    expect(thrown(() => addon.netlinkRequest(NETLINK_ROUTE, hex('30000000 1200 0103 01000000 00000000', '00'.repeat(16)))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => addon.netlinkRequest(NETLINK_ROUTE, new Uint8Array(8))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => addon.netlinkRequest(NETLINK_ROUTE, new Uint8Array(8192))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => addon.netlinkRequest(99, hex('10000000 1200 0103 01000000 00000000'))).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('exchanges one request with the kernel off the event loop: a link dump that has the loopback and ends with NLMSG_DONE', async () => {
    const seq = 0x5eed;
    const answer = await addon.netlinkRequest(NETLINK_ROUTE, buildNetlinkMessage(18, NLM_F_REQUEST | NLM_F_DUMP, seq, new Uint8Array(16)));
    const messages = netlinkMessages(answer);
    expect(messages.every((m) => m.seq === seq)).toBe(true);
    expect(messages.at(-1)!.type).toBe(3);
    const names = messages.filter((m) => m.type === 16).map((m) => attributeString(netlinkAttributes(m.payload, 16).get(3)));
    expect(names).toContain('lo');
  });

  it('rejects with the errno the kernel gave for a request it refuses', async () => {
    // RTM_GETLINK (not a dump) for ifindex 0x7ffffff0, which no host has: ENODEV.
    const req = buildNetlinkMessage(18, NLM_F_REQUEST, 77, hex('00 00 0000 f0ffff7f 00000000 00000000'));
    const answer = await addon.netlinkRequest(NETLINK_ROUTE, req);
    expect(thrown(() => netlinkDataMessages(answer, 'link 0x7ffffff0')).code).toBe('ENODEV');
  });
});
