// Placeholder until its issue lands: prints usage and exits non-zero.
console.error('vstunadm: not implemented yet in this build');
process.exit(2);
