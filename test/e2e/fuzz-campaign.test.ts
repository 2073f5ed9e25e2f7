// The fuzz campaign of npm run fuzz, at 200 000 frames: mutated and random frames of every
// protocol the director parses on its real TAP, IPIP/GUE garbage at the agent, a curl loop
// through the VIP all along. The director and the agent stay up, frames in = sum of verdicts =
// TAP tx, the agent's received = accepted + drops, and every curl succeeds. Seed printed.
import { describe, expect, it } from 'vitest';
import { runFuzzCampaign } from '../../src/lab/fuzz-campaign.js';
import { canRunNetnsTests } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('fuzz campaign', () => {
  it('200 000 frames: nothing crashes, every frame is accounted for, every curl succeeds', async () => {
    const r = await runFuzzCampaign({ frames: 200_000, prefix: 'hd-fz', log: (l) => console.log(l) });
    console.log(`seed ${r.seed}; director ${JSON.stringify({ ...r.director, kinds: undefined })}`);
    console.log(`director frame kinds ${JSON.stringify(r.director.kinds)}`);
    console.log(`agent ${JSON.stringify({ ...r.agent, kinds: undefined })}; kinds ${JSON.stringify(r.agent.kinds)}`);
    console.log(`curls ${JSON.stringify(r.curls)}; ${r.seconds} s`);
    expect(r.problems).toEqual([]);
    expect(r.director.alive && r.agent.alive).toBe(true);
    expect(r.director.framesIn).toBe(r.director.verdictSum);
    expect(r.director.framesIn).toBe(r.director.tapTx);
    expect(r.director.injected + r.director.sendErrors + r.agent.injected + r.agent.sendErrors).toBe(200_000);
    expect(r.curls.failed).toBe(0);
    expect(r.curls.ok).toBeGreaterThan(0);
  }, 900_000);
});
