// Traffic tools for the flood and campaign e2e files: the benchmark's C generators, bounded
// children and counter readers live in src/lab/c-tools.ts (the campaigns use them too).
export { boundChild, buildCTools, collectLines, exited, lastJson, linkCounter, metricSamples, scrape } from '../../src/lab/c-tools.js';
