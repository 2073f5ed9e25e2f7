// The e2e tests' gate (test/support/netns.ts) on a host where `ip netns` cannot run (PATH
// without ip): outside CI the e2e suites are skipped; under CI=true the gate throws, so CI
// fails instead of passing with every end-to-end test skipped.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { canRunNetnsTests } from '../support/netns.js';

const saved = { PATH: process.env.PATH, CI: process.env.CI };
const emptyBin = mkdtempSync(path.join(tmpdir(), 'vstun-no-ip-'));

function restore(name: 'PATH' | 'CI') {
  if (saved[name] === undefined) delete process.env[name];
  else process.env[name] = saved[name];
}

afterEach(() => {
  restore('PATH');
  restore('CI');
});
afterAll(() => rmSync(emptyBin, { recursive: true, force: true }));

describe('canRunNetnsTests, the e2e gate, where ip netns cannot run', () => {
  it('outside CI: false, so the e2e suites skip', () => {
    process.env.PATH = emptyBin;
    delete process.env.CI;
    expect(canRunNetnsTests()).toBe(false);
  });

  it('under CI=true: throws and says why, so every e2e file fails to collect', () => {
    process.env.PATH = emptyBin;
    process.env.CI = 'true';
    expect(() => canRunNetnsTests()).toThrow(/^CI=true and the end-to-end tests cannot run: (not root|`ip netns list` fails)/);
  });
});
