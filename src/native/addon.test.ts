// The addon's contract seen from JS: argument validation, errno mapping (code/errno/target
// and a message that says what to fix), and the reader/writer rings over loopback UDP and a
// FIFO. Device-level traffic lives in test/e2e (inside namespaces).
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadAddon, META_FAMILY, META_LENGTH, META_OFFSET, META_PORT, META_STRIDE, ADDR_STRIDE, type NativeError } from './addon.js';

const addon = loadAddon();
const root = typeof process.getuid === 'function' && process.getuid() === 0;

function caught(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  throw new Error('expected a throw');
}

async function until(probe: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const openFds: number[] = [];
const toClose: { close(): void }[] = [];
afterEach(() => {
  for (const c of toClose.splice(0)) c.close();
  for (const fd of openFds.splice(0)) addon.closeFd(fd);
});
function track<T extends { close(): void }>(x: T): T {
  toClose.push(x);
  return x;
}
function udp(port = 0, reusePort = false): { fd: number; port: number } {
  const fd = addon.udpSocketOpen(4, '127.0.0.1', port, { reusePort });
  openFds.push(fd);
  return { fd, port: addon.socketAddress(fd).port };
}

describe('argument validation', () => {
  it.each([
    ['tunOpen kind', () => addon.tunOpen('vt%d', 'tin' as 'tun', 1), 'ERR_INVALID_ARG_VALUE'],
    ['tunOpen long name', () => addon.tunOpen('a-name-that-is-too-long', 'tap', 1), 'ERR_INVALID_ARG_VALUE'],
    ['tunOpen queues 0', () => addon.tunOpen('vt%d', 'tap', 0), 'ERR_INVALID_ARG_VALUE'],
    ['tunOpen name type', () => addon.tunOpen(7 as unknown as string, 'tap', 1), 'ERR_INVALID_ARG_TYPE'],
    ['linkSetMtu mtu type', () => addon.linkSetMtu('lo', '1500' as unknown as number), 'ERR_INVALID_ARG_TYPE'],
    ['linkSetMtu too small', () => addon.linkSetMtu('lo', 10), 'ERR_INVALID_ARG_VALUE'],
    ['linkSetMac 5 bytes', () => addon.linkSetMac('lo', new Uint8Array(5)), 'ERR_INVALID_ARG_VALUE'],
    ['linkSetIpv4 bad address', () => addon.linkSetIpv4('lo', '10.0.0.300', 24), 'ERR_INVALID_ARG_VALUE'],
    ['linkAddIpv6 prefix', () => addon.linkAddIpv6('lo', 'fd00::1', 129), 'ERR_INVALID_ARG_VALUE'],
    ['rawSocketOpen family 5', () => addon.rawSocketOpen(5 as 4, 4), 'ERR_INVALID_ARG_VALUE'],
    ['rawSocketOpen hdrincl on v6', () => addon.rawSocketOpen(6, 4, { hdrincl: true }), 'ERR_INVALID_ARG_VALUE'],
    ['udpSocketOpen bad address', () => addon.udpSocketOpen(4, 'localhost', 1), 'ERR_INVALID_ARG_VALUE'],
    ['udpSocketOpen port', () => addon.udpSocketOpen(4, '127.0.0.1', 70000), 'ERR_INVALID_ARG_VALUE'],
    ['createReader no options', () => addon.createReader(undefined as never), 'ERR_INVALID_ARG_TYPE'],
    ['createReader mode', () => addon.createReader({ fd: 0, mode: 'recv' as 'read' }), 'ERR_INVALID_ARG_VALUE'],
    ['createReader slotSize under headroom', () => addon.createReader({ fd: 0, mode: 'read', headroom: 256, slotSize: 256 }), 'ERR_INVALID_ARG_VALUE'],
    ['createReader slots 0', () => addon.createReader({ fd: 0, mode: 'read', slots: 0 }), 'ERR_INVALID_ARG_VALUE'],
    ['createWriter mode', () => addon.createWriter({ fd: 0, mode: 'send' as 'write' }), 'ERR_INVALID_ARG_VALUE'],
    ['closeFd negative', () => addon.closeFd(-1), 'ERR_INVALID_ARG_VALUE'],
  ])('%s throws %s', (_name, fn, code) => {
    const err = caught(fn);
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
  });
});

describe('errno mapping', () => {
  it('unknown interface: ENODEV with the name in target and message, and a hint', () => {
    for (const fn of [() => addon.linkGetMtu('vtnosuch0'), () => addon.linkIsUp('vtnosuch0'), () => addon.linkIndex('vtnosuch0'), () => addon.linkGetMac('vtnosuch0')]) {
      const err = caught(fn);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe('ENODEV');
      expect(err.errno).toBe(os.constants.errno.ENODEV);
      expect(err.target).toBe('vtnosuch0');
      expect(err.message).toContain('vtnosuch0');
      expect(err.message).toContain('ip link');
    }
  });

  it('a closed fd: EBADF from createReader and createWriter', () => {
    const { fd } = udp();
    openFds.pop();
    addon.closeFd(fd);
    for (const fn of [() => addon.createReader({ fd, mode: 'recvmmsg' }), () => addon.createWriter({ fd, mode: 'sendmmsg' })]) {
      const err = caught(fn);
      expect(err.code).toBe('EBADF');
      expect(err.target).toBe(`fd ${fd}`);
      expect(err.message).toContain('not open');
    }
  });

  it('closeFd on an already-closed fd is not an error', () => {
    const { fd } = udp();
    openFds.pop();
    addon.closeFd(fd);
    expect(() => addon.closeFd(fd)).not.toThrow();
  });

  it('a taken port: EADDRINUSE naming the address and suggesting reusePort', () => {
    const a = udp();
    const err = caught(() => udp(a.port));
    expect(err.code).toBe('EADDRINUSE');
    expect(err.target).toBe(`udp 127.0.0.1:${a.port}`);
    expect(err.message).toContain('reusePort');
  });

  it('reusePort lets two sockets share a port', () => {
    const a = udp(0, true);
    expect(() => udp(a.port, true)).not.toThrow();
  });

  it('bindDevice to a missing interface: ENODEV naming it', () => {
    const err = caught(() => addon.udpSocketOpen(4, '127.0.0.1', 0, { bindDevice: 'vtnosuch1' }));
    expect(err.code).toBe('ENODEV');
    expect(err.target).toBe('vtnosuch1');
  });

  it.skipIf(!root)('tunOpen over an existing interface of another kind: EINVAL with a hint', () => {
    const { name, fds } = addon.tunOpen('vtu%d', 'tap', 1);
    openFds.push(...fds);
    const err = caught(() => addon.tunOpen(name, 'tun', 1));
    expect(err.code).toBe('EINVAL');
    expect(err.target).toBe(name);
    expect(err.message).toContain('another kind');
  });
});

describe.skipIf(!root)('tunOpen and link configuration (device not up: no traffic)', () => {
  it('resolves a %d template, opens one fd per queue and configures the link', () => {
    const { name, fds } = addon.tunOpen('vtu%d', 'tap', 2);
    openFds.push(...fds);
    expect(name).toMatch(/^vtu\d+$/);
    expect(fds).toHaveLength(2);
    expect(new Set(fds).size).toBe(2);
    addon.linkSetMtu(name, 1400);
    expect(addon.linkGetMtu(name)).toBe(1400);
    const mac = new Uint8Array([0x02, 0x76, 0x73, 0x74, 0x75, 0x6e]);
    addon.linkSetMac(name, mac);
    expect(Array.from(addon.linkGetMac(name))).toEqual(Array.from(mac));
    expect(addon.linkIsUp(name)).toBe(false);
    addon.linkSetTxQueueLen(name, 5000);
    const idx = addon.linkIndex(name);
    expect(idx).toBeGreaterThan(0);
    const shown = execFileSync('ip', ['-o', 'link', 'show', name], { timeout: 60_000, encoding: 'utf8' });
    expect(shown).toContain('qlen 5000');
    expect(shown.startsWith(`${idx}:`)).toBe(true);
  });

  it('writing to a TAP that is down counts EIO instead of throwing', () => {
    const { fds } = addon.tunOpen('vtu%d', 'tap', 1);
    openFds.push(...fds);
    const w = track(addon.createWriter({ fd: fds[0], mode: 'write' }));
    const data = new Uint8Array(64);
    const meta = new Int32Array([0, 60, 0, 0, 0, 60, 0, 0]);
    expect(w.writeBatch(data, meta, 2)).toBe(0);
    const s = w.stats();
    expect(s.errors).toBe(2);
    expect(s.lastErrno).toBe('EIO');
    expect(s.written).toBe(0);
  });

  it('the interface disappears when its last fd closes (not persistent)', () => {
    const { name, fds } = addon.tunOpen('vtu%d', 'tun', 1);
    addon.closeFd(fds[0]);
    expect(() => addon.linkIndex(name)).toThrow(/ENODEV/);
  });
});

describe('reader and writer over loopback UDP', () => {
  it('a sent batch arrives as one or more batches at slot offsets with the peer address', async () => {
    const rx = udp();
    const tx = udp();
    const reader = track(addon.createReader({ fd: rx.fd, mode: 'recvmmsg', slots: 64, headroom: 64 }));
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    const N = 40;
    const data = new Uint8Array(N * 100);
    const meta = new Int32Array(N * META_STRIDE);
    const addr = new Uint8Array(N * ADDR_STRIDE);
    for (let i = 0; i < N; i++) {
      const len = 20 + i;
      data.fill(i + 1, i * 100, i * 100 + len);
      meta.set([i * 100, len, 4, rx.port], i * META_STRIDE);
      addr.set([127, 0, 0, 1], i * ADDR_STRIDE);
    }
    const got: number[][] = [];
    const ring = new Uint8Array(reader.data);
    reader.start((count) => {
      for (let i = 0; i < count; i++) {
        const m = i * META_STRIDE;
        const off = reader.meta[m + META_OFFSET];
        expect(off).toBe(i * reader.slotSize + reader.headroom);
        expect(reader.meta[m + META_FAMILY]).toBe(4);
        expect(reader.meta[m + META_PORT]).toBe(tx.port);
        expect(Array.from(reader.addr.subarray(i * ADDR_STRIDE, i * ADDR_STRIDE + 4))).toEqual([127, 0, 0, 1]);
        got.push([ring[off], reader.meta[m + META_LENGTH]]);
      }
    });
    expect(writer.writeBatch(data, meta, N, addr)).toBe(N);
    await until(() => got.length === N, 'all packets');
    expect(got).toEqual(Array.from({ length: N }, (_, i) => [i + 1, 20 + i]));
    const rs = reader.stats();
    expect(rs.packets).toBe(N);
    expect(rs.batches).toBeGreaterThanOrEqual(1);
    expect(rs.batches).toBeLessThanOrEqual(N);
    expect(writer.stats()).toMatchObject({ written: N, errors: 0, queued: 0, dropped: 0 });
  });

  it('a Uint8Array view: meta offsets are relative to the view start', async () => {
    const rx = udp();
    const tx = udp();
    const reader = track(addon.createReader({ fd: rx.fd, mode: 'recvmmsg' }));
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    const backing = new Uint8Array(300);
    backing.fill(0xaa, 0, 100);
    backing.fill(0xbb, 100, 300);
    const view = backing.subarray(100);
    const addr = new Uint8Array([127, 0, 0, 1, ...new Array(12).fill(0)]);
    let first = -1;
    reader.start((count) => {
      if (count > 0) first = new Uint8Array(reader.data)[reader.meta[META_OFFSET]];
    });
    expect(writer.writeBatch(view, new Int32Array([0, 50, 4, rx.port]), 1, addr)).toBe(1);
    await until(() => first !== -1, 'the packet');
    expect(first).toBe(0xbb);
  });

  it('an oversized datagram is counted as truncated and not delivered', async () => {
    const rx = udp();
    const tx = udp();
    const reader = track(addon.createReader({ fd: rx.fd, mode: 'recvmmsg', headroom: 0, slotSize: 256 }));
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    const lengths: number[] = [];
    reader.start((count) => {
      for (let i = 0; i < count; i++) lengths.push(reader.meta[i * META_STRIDE + META_LENGTH]);
    });
    const data = new Uint8Array(1000);
    const addr = new Uint8Array(32);
    addr.set([127, 0, 0, 1], 0);
    addr.set([127, 0, 0, 1], 16);
    writer.writeBatch(data, new Int32Array([0, 900, 4, rx.port, 0, 100, 4, rx.port]), 2, addr);
    await until(() => lengths.length === 1 && reader.stats().truncated === 1, 'one packet and one truncation');
    expect(lengths).toEqual([100]);
  });

  it('bad packet spans and missing addresses are counted per packet, never thrown', () => {
    const tx = udp();
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    const data = new Uint8Array(100);
    // out of range, negative offset, zero length, family 4 without addr
    const meta = new Int32Array([90, 20, 0, 0, -1, 10, 0, 0, 0, 0, 0, 0, 0, 10, 4, 9]);
    expect(writer.writeBatch(data, meta, 4)).toBe(0);
    expect(writer.stats()).toMatchObject({ errors: 4, written: 0, lastErrno: 'EDESTADDRREQ' });
  });

  it('a count beyond meta is a programming error and throws', () => {
    const tx = udp();
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    expect(caught(() => writer.writeBatch(new Uint8Array(10), new Int32Array(4), 2)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(caught(() => writer.writeBatch(new Uint8Array(10), new Uint32Array(4) as unknown as Int32Array, 1)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('close() inside the callback stops delivery without crashing; start() after close throws', async () => {
    const rx = udp();
    const tx = udp();
    const reader = addon.createReader({ fd: rx.fd, mode: 'recvmmsg', slots: 1 });
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    let calls = 0;
    reader.start(() => {
      calls++;
      reader.close();
      reader.close();
    });
    const addr = new Uint8Array(16 * 3);
    for (let i = 0; i < 3; i++) addr.set([127, 0, 0, 1], i * 16);
    writer.writeBatch(new Uint8Array(30), new Int32Array([0, 10, 4, rx.port, 10, 10, 4, rx.port, 20, 10, 4, rx.port]), 3, addr);
    await until(() => calls === 1, 'first batch');
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    expect(caught(() => reader.start(() => {})).code).toBe('ERR_READER_CLOSED');
    expect(reader.stats().packets).toBe(1);
  });

  it('the reader keeps its own dup: the caller may close its fd first, and close() releases the socket', async () => {
    const rx = addon.udpSocketOpen(4, '127.0.0.1', 0);
    const port = addon.socketAddress(rx).port;
    const tx = udp();
    const reader = addon.createReader({ fd: rx, mode: 'recvmmsg' });
    expect(reader.fd).toBe(rx);
    addon.closeFd(rx);
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    let n = 0;
    reader.start((count) => (n += count));
    writer.writeBatch(new Uint8Array(10), new Int32Array([0, 10, 4, port]), 1, new Uint8Array([127, 0, 0, 1, ...new Array(12).fill(0)]));
    await until(() => n === 1, 'delivery through the dup');
    expect(caught(() => addon.udpSocketOpen(4, '127.0.0.1', port)).code).toBe('EADDRINUSE');
    reader.close();
    const again = addon.udpSocketOpen(4, '127.0.0.1', port); // the port is free at once
    openFds.push(again);
  });

  it('pause() holds packets in the socket and resume() delivers them', async () => {
    const rx = udp();
    const tx = udp();
    const reader = track(addon.createReader({ fd: rx.fd, mode: 'recvmmsg' }));
    const writer = track(addon.createWriter({ fd: tx.fd, mode: 'sendmmsg' }));
    let n = 0;
    reader.start((count) => {
      n += count;
    });
    reader.pause();
    const addr = new Uint8Array([127, 0, 0, 1, ...new Array(12).fill(0)]);
    writer.writeBatch(new Uint8Array(10), new Int32Array([0, 10, 4, rx.port]), 1, addr);
    await new Promise((r) => setTimeout(r, 50));
    expect(n).toBe(0);
    reader.resume();
    await until(() => n === 1, 'delivery after resume');
  });
});

describe('writer backlog (FIFO that fills up)', () => {
  function fifo(): { rd: number; wr: number } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vstun-fifo-'));
    const p = path.join(dir, 'f');
    execFileSync('mkfifo', [p], { timeout: 10_000 });
    const rd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const wr = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.rmSync(dir, { recursive: true });
    openFds.push(rd, wr);
    return { rd, wr };
  }

  it('EAGAIN queues the rest in order and the backlog drains when the reader catches up', async () => {
    const { rd, wr } = fifo();
    const writer = track(addon.createWriter({ fd: wr, mode: 'write', backlog: 1024 }));
    const N = 200; // 200 KB: more than the 64 KB pipe buffer
    const data = new Uint8Array(N * 1024);
    const meta = new Int32Array(N * META_STRIDE);
    for (let i = 0; i < N; i++) {
      data.fill(i & 0xff, i * 1024, (i + 1) * 1024);
      meta.set([i * 1024, 1024, 0, 0], i * META_STRIDE);
    }
    const sent = writer.writeBatch(data, meta, N);
    expect(sent).toBeLessThan(N);
    let s = writer.stats();
    expect(s.queued).toBe(N - sent);
    expect(s.backlogDepth).toBe(N - sent);
    data.fill(0xee); // the backlog holds copies: changing the caller's buffer must not matter

    const reader = track(addon.createReader({ fd: rd, mode: 'read', headroom: 0, slotSize: 4096, slots: 64 }));
    const received: number[] = [];
    const ring = new Uint8Array(reader.data);
    reader.start((count) => {
      for (let i = 0; i < count; i++) {
        const off = reader.meta[i * META_STRIDE + META_OFFSET];
        const len = reader.meta[i * META_STRIDE + META_LENGTH];
        for (let j = 0; j < len; j++) received.push(ring[off + j]);
      }
    });
    await until(() => received.length === N * 1024, 'all bytes through the FIFO', 10_000);
    for (let i = 0; i < N; i++) expect(received[i * 1024]).toBe(i & 0xff);
    s = writer.stats();
    expect(s).toMatchObject({ written: N, bytes: N * 1024, backlogDepth: 0, dropped: 0, errors: 0 });
  });

  it('a fd that only yields hard errors stalls the reader instead of spinning', async () => {
    const { rd, wr } = fifo();
    fs.writeSync(wr, 'x');
    const reader = track(addon.createReader({ fd: rd, mode: 'recvmmsg' })); // recvmmsg on a FIFO: ENOTSOCK
    let calls = 0;
    reader.start(() => calls++);
    await until(() => reader.stats().stalled, 'the reader to stall');
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.stats()).toMatchObject({ errors: 1, lastErrno: 'ENOTSOCK', stalled: true, packets: 0 });
    expect(calls).toBe(0);
  });

  it('overflowing the backlog counts drops instead of throwing', () => {
    const { wr } = fifo();
    const writer = track(addon.createWriter({ fd: wr, mode: 'write', backlog: 4 }));
    const N = 100;
    const data = new Uint8Array(N * 1024);
    const meta = new Int32Array(N * META_STRIDE);
    for (let i = 0; i < N; i++) meta.set([i * 1024, 1024, 0, 0], i * META_STRIDE);
    const sent = writer.writeBatch(data, meta, N);
    const s = writer.stats();
    expect(s.queued).toBe(4);
    expect(s.dropped).toBe(N - sent - 4);
    expect(s.written).toBe(sent);
    writer.close();
    expect(writer.stats().dropped).toBe(N - sent); // the backlog is dropped on close
  });
});
