// -x/-y through vstunadm's parser, -S, -R and the config definitions.
import { describe, expect, it } from 'vitest';
import { validateDirectorConfig } from './config-loader.js';
import { parseVstunadmArgs } from './ipvsadm-args.js';
import { formatRules, restoreRules } from './ipvsadm-dump.js';
import { applyCommandsToDefinitions, definitionToRules } from './service-definitions.js';

describe('connection thresholds in the control plane', () => {
  it('-a and -e take -x and -y (long forms too)', () => {
    expect(parseVstunadmArgs('-a -t 10.0.0.1:80 -r 10.0.1.2 -x 100 -y 50'.split(' '))).toMatchObject({ kind: 'add-server', server: { address: '10.0.1.2', upperThreshold: 100, lowerThreshold: 50 } });
    expect(parseVstunadmArgs('-e -t 10.0.0.1:80 -r 10.0.1.2 --u-threshold 7'.split(' '))).toMatchObject({ kind: 'edit-server', server: { upperThreshold: 7 } });
    expect(parseVstunadmArgs('-a -t 10.0.0.1:80 -r 10.0.1.2 -x 0'.split(' '))).not.toHaveProperty('server.upperThreshold');
  });

  it('-S prints them as ipvsadm does and -R reads them back', () => {
    const text = '-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type ipip -x 100 -y 50\n-a -t 10.0.0.1:80 -r 10.0.1.3:80 -i -w 1 --tun-type ipip\n';
    expect(formatRules(restoreRules(text))).toBe(text);
  });

  it('the config carries them to the rules and an -e changes them', () => {
    const config = validateDirectorConfig({ services: [{ protocol: 'tcp', vip: '10.0.0.1', port: 80, realServers: [{ address: '10.0.1.2', upperThreshold: 100, lowerThreshold: 50 }] }] });
    expect(definitionToRules(config.services[0]).servers[0]).toMatchObject({ upperThreshold: 100, lowerThreshold: 50 });
    const edited = applyCommandsToDefinitions(config.services, [parseVstunadmArgs('-e -t 10.0.0.1:80 -r 10.0.1.2 -x 9'.split(' ')) as never]);
    expect(edited[0].realServers[0]).toMatchObject({ upperThreshold: 9, lowerThreshold: undefined });
  });

  it('the config refuses a lower threshold above the upper one', () => {
    expect(() => validateDirectorConfig({ services: [{ protocol: 'tcp', vip: '10.0.0.1', port: 80, realServers: [{ address: '10.0.1.2', upperThreshold: 10, lowerThreshold: 20 }] }] })).toThrow(
      /realServers\[0\]\.lowerThreshold: 20 is higher than upperThreshold 10/,
    );
  });
});
