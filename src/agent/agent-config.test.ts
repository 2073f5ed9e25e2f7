import { describe, expect, it } from 'vitest';
import { AgentError } from './agent-error.js';
import { buildAgentConfig, parseListen } from './agent-config.js';

const ok = { vip: ['198.51.100.10'], director: ['192.0.2.1'] };

describe('buildAgentConfig', () => {
  it('applies the documented defaults', () => {
    const c = buildAgentConfig(ok);
    expect(c).toMatchObject({ mode: 'auto', listen: { host: '127.0.0.1', port: 9470 }, tun: 'vstun-in', guePort: 6080, stateFile: '/run/vstun/agent.state.json', setup: true, uplinks: [] });
    expect(c.vips[0].text).toBe('198.51.100.10');
  });

  it.each([
    [{ director: ['192.0.2.1'] }, /at least one --vip/],
    [{ vip: ['198.51.100.10'] }, /at least one --director/],
    [{ ...ok, vip: ['198.51.100.10/24'] }, /without \/prefix/],
    [{ ...ok, vip: ['198.51.100.10', '198.51.100.10'] }, /twice/],
    [{ ...ok, director: ['not-an-ip'] }, /--director "not-an-ip"/],
    [{ ...ok, mode: 'fast' }, /--mode/],
    [{ ...ok, listen: '9470' }, /--listen/],
    [{ ...ok, listen: '127.0.0.1:70000' }, /port/],
    [{ ...ok, tun: 'a-very-long-interface-name' }, /--tun/],
    [{ ...ok, uplink: ['eth/0'] }, /--uplink/],
    [{ ...ok, guePort: '-1' }, /--gue-port/],
    [{ ...ok, stateFile: 'relative.json' }, /absolute/],
  ])('rejects %j', (raw, msg) => {
    try {
      buildAgentConfig(raw);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AgentError);
      expect((err as AgentError).code).toBe('AGENT_BAD_ARGUMENT');
      expect((err as Error).message).toMatch(msg);
    }
  });

  it('--mode dr needs no --director (nothing encapsulated is accepted)', () => {
    expect(buildAgentConfig({ vip: ['198.51.100.10'], mode: 'dr' })).toMatchObject({ mode: 'dr', directors: [] });
  });

  it('parses IPv6 listen addresses and none', () => {
    expect(parseListen('[::1]:9470')).toEqual({ host: '::1', port: 9470 });
    expect(parseListen('none')).toBeNull();
  });
});
