// Packet codecs: one protocol per file, each with a re-bindable view for the data path and
// a plain header object (parse/emit/byteLength) for control code, tests and logs.
export * from './checksum.js';
export * from './errors.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4-address.js';
export * from './ip-protocol.js';
export * from './ipv4.js';
export * from './tcp.js';
export * from './udp.js';
export * from './icmpv4.js';
export * from './ipv6-address.js';
export * from './ipv6.js';
export * from './ipip.js';
export * from './icmpv6.js';
export * from './gue.js';
export * from './nat-rewrite.js';
