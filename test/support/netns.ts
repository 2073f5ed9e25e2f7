// Tests use the same namespace toolkit as the demo and the benchmark.
export * from '../../src/lab/netns.js';
