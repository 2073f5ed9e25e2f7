// node bench/config-validate.mjs [--services 10000 --per-service 10] (after npm run build)
// Validating a large config: the whole schema, and the share of it spent in the table rules
// of src/control/config-checks.ts, measured in the same run (a ratio, not a wall-clock target).
import { performance } from 'node:perf_hooks';
import { validateDirectorConfig } from '../dist/control/config-loader.js';
import { directorProblems, serviceProblems } from '../dist/control/config-checks.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SERVICES = arg('services', 10_000);
const PER_SERVICE = arg('per-service', 10);

const services = [];
for (let s = 0; s < SERVICES; s++) {
  const realServers = [];
  for (let r = 0; r < PER_SERVICE; r++) realServers.push({ address: `10.250.${r}.${(s % 250) + 1}`, weight: 1 + (r % 3) });
  services.push({ protocol: 'tcp', vip: `10.${100 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`, port: 80, scheduler: 'wrr', realServers });
}

for (let round = 1; round <= 3; round++) {
  let t0 = performance.now();
  const config = validateDirectorConfig(structuredClone({ services }));
  const validateMs = performance.now() - t0;
  t0 = performance.now();
  for (const s of config.services) serviceProblems(s);
  directorProblems(config.director, config.services);
  const checksMs = performance.now() - t0;
  console.log(`round ${round}: ${SERVICES} services x ${PER_SERVICE} servers validated in ${validateMs.toFixed(0)} ms; table rules alone ${checksMs.toFixed(0)} ms (${((100 * checksMs) / validateMs).toFixed(0)}% of it)`);
}
