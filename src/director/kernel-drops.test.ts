import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kernelDrops, registerKernelDrops, TapDropWatcher } from './kernel-drops.js';

describe('TapDropWatcher', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const fakeSysfs = (tap: string) => {
    const root = mkdtempSync(path.join(tmpdir(), 'vstun-sysfs-'));
    dirs.push(root);
    mkdirSync(path.join(root, tap, 'statistics'), { recursive: true });
    const set = (tx: number, rx: number) => {
      writeFileSync(path.join(root, tap, 'statistics', 'tx_dropped'), `${tx}\n`);
      writeFileSync(path.join(root, tap, 'statistics', 'rx_dropped'), `${rx}\n`);
    };
    return { root, set };
  };

  it('counts tx_dropped as tap-queue-full and rx_dropped as tap-write-dropped, relative to the first read', async () => {
    const fs = fakeSysfs('vt0');
    fs.set(100, 7);
    const w = new TapDropWatcher('vt0', fs.root);
    await w.poll();
    expect(w.read()).toEqual({ 'tap-queue-full': 0, 'tap-write-dropped': 0 });
    fs.set(1600, 9);
    await w.poll();
    expect(w.read()).toEqual({ 'tap-queue-full': 1500, 'tap-write-dropped': 2 });
  });

  it('keeps the last counts when the TAP is gone or a file is garbage', async () => {
    const fs = fakeSysfs('vt1');
    fs.set(0, 0);
    const w = new TapDropWatcher('vt1', fs.root);
    await w.poll();
    fs.set(5, 0);
    await w.poll();
    writeFileSync(path.join(fs.root, 'vt1', 'statistics', 'tx_dropped'), 'garbage');
    await w.poll();
    rmSync(path.join(fs.root, 'vt1'), { recursive: true });
    await w.poll();
    expect(w.read()['tap-queue-full']).toBe(5);
  });

  it('merges every source registered for a director', () => {
    const director = {};
    expect(kernelDrops(director)).toEqual({});
    registerKernelDrops(director, { read: () => ({ 'tap-queue-full': 3 }) });
    registerKernelDrops(director, { read: () => ({ 'guard-syn': 4, 'tap-queue-full': 1 }) });
    expect(kernelDrops(director)).toEqual({ 'tap-queue-full': 4, 'guard-syn': 4 });
    expect(kernelDrops({})).toEqual({});
  });
});
