// The soak campaign of npm run soak, for 2 minutes: moderate mixed traffic (curl loop, a UDP
// echo flow, UDP over many source ports, a trickle of fuzzed frames) through the built director
// and two agents, RSS sampled every 30 s. Prints the RSS slope (a figure, not a timed
// assertion); checks that the daemons stay up, every curl succeeds and memory stays bounded.
import { describe, expect, it } from 'vitest';
import { runSoakCampaign } from '../../src/lab/soak-campaign.js';
import { canRunNetnsTests } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('soak campaign', () => {
  it('2 minutes of mixed traffic: daemons up, every curl answered, RSS bounded; slope printed', async () => {
    const r = await runSoakCampaign({ minutes: 2, prefix: 'hd-sk', log: (l) => console.log(l) });
    console.log(`seed ${r.seed}; director RSS slope ${r.directorSlopeKbPerMin} KB/min, agents ${r.agentSlopesKbPerMin.join(' / ')} KB/min`);
    console.log(`samples ${JSON.stringify(r.samples)}; curls ${JSON.stringify(r.curls)}; UDP echo ${r.udpEcho.received}/${r.udpEcho.sent}; fuzz frames ${r.fuzzFrames}`);
    expect(r.problems).toEqual([]);
    expect(r.curls.ok).toBeGreaterThan(0);
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    // Bounded memory: the director ends within 64 MB of where it started.
    const first = r.samples[0].directorKiB;
    const last = r.samples[r.samples.length - 1].directorKiB;
    expect(last - first).toBeLessThan(64 * 1024);
  }, 600_000);
});
