#!/usr/bin/env node
// npm run fuzz -- --frames N [--seed S] [--rate PPS]
// npm run soak -- --minutes M [--seed S]
// Builds dist/ (tsc), then runs the campaign in a lab of network namespaces (root). Prints
// the seed first (replay a run with --seed), progress lines, a summary and one JSON line;
// exits 1 when a check failed.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [which, ...argv] = process.argv.slice(2);

function option(name, fallback) {
  const i = argv.indexOf(`--${name}`);
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  const text = eq ? eq.slice(name.length + 3) : i >= 0 ? argv[i + 1] : undefined;
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} needs a positive number, got "${text}"`);
  return n;
}

function usage(message) {
  process.stderr.write(`campaign: ${message}\nusage: npm run fuzz -- --frames N [--seed S] [--rate PPS]\n       npm run soak -- --minutes M [--seed S]\n`);
  process.exit(2);
}

if (which !== 'fuzz' && which !== 'soak') usage('say fuzz or soak');
if (process.getuid?.() !== 0) usage('the campaigns build network namespaces: run as root');
execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const log = (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const seed = option('seed', undefined);

if (which === 'fuzz') {
  const { runFuzzCampaign } = await import(path.join(ROOT, 'dist', 'lab', 'fuzz-campaign.js'));
  const r = await runFuzzCampaign({ frames: Math.round(option('frames', 100_000)), seed, rate: option('rate', 20_000), log });
  log(`director: ${r.director.injected} frames injected (${r.director.sendErrors} refused at send), frames in ${r.director.framesIn} = verdicts ${r.director.verdictSum} = TAP tx ${r.director.tapTx} (TAP dropped ${r.director.tapDropped})`);
  log(`director verdicts: ${JSON.stringify(r.director.verdicts)}`);
  log(`agent: ${r.agent.injected} frames injected, received ${r.agent.received} = accepted ${r.agent.accepted} + drops ${JSON.stringify(r.agent.drops)}`);
  log(`curls through the VIP: ${r.curls.ok} ok, ${r.curls.failed} failed; ${r.seconds} s; seed ${r.seed}`);
  log(r.ok ? 'fuzz: PASS' : `fuzz: FAIL: ${r.problems.join('; ')}`);
  console.log(JSON.stringify({ campaign: 'fuzz', ...r }));
  process.exit(r.ok ? 0 : 1);
} else {
  const { runSoakCampaign } = await import(path.join(ROOT, 'dist', 'lab', 'soak-campaign.js'));
  const r = await runSoakCampaign({ minutes: option('minutes', 30), seed, log });
  log(`RSS slope: director ${r.directorSlopeKbPerMin} KB/min, agents ${r.agentSlopesKbPerMin.join(' / ')} KB/min over ${r.samples.length} samples`);
  for (const [reason, n] of Object.entries(r.curls.reasons)) log(`failed curls: ${n}× ${reason}`);
  log(`curls ${r.curls.ok} ok / ${r.curls.failed} failed; UDP echo ${r.udpEcho.received}/${r.udpEcho.sent}; ${r.fuzzFrames} fuzzed frames; seed ${r.seed}`);
  log(r.ok ? 'soak: PASS' : `soak: FAIL: ${r.problems.join('; ')}`);
  console.log(JSON.stringify({ campaign: 'soak', ...r }));
  process.exit(r.ok ? 0 : 1);
}
