// Placeholder until its issue lands: prints usage and exits non-zero.
console.error('vstun-agent: not implemented yet in this build');
process.exit(2);
