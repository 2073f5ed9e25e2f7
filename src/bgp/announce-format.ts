// vstunadm's text for the BGP announcement state (the `announce`, `drain` and `undrain` ops).
import type { AnnouncerSnapshot } from './vip-announcer.js';

/** `vstunadm announce` text: one line per VIP. */
export function formatAnnouncements(s: AnnouncerSnapshot | null): string {
  if (s === null) return 'BGP announcement is not configured (no bgp: section in the director config)\n';
  const mode = s.stopping ? 'stopping (all withdrawn)' : s.draining ? 'drained (all withdrawn)' : 'health-driven';
  let out = `BIRD ${s.birdSocket}, include ${s.includeFile}, protocol ${s.protocol}: ${mode}\n`;
  if (s.lastError) out += `last error: ${s.lastError}\n`;
  out += `${'VIP'.padEnd(40)} ${'State'.padEnd(10)} Since                     Why\n`;
  for (const v of s.vips) out += `${v.vip.padEnd(40)} ${(v.announced ? 'announced' : 'withdrawn').padEnd(10)} ${(v.since ?? '-').padEnd(25)} ${v.reason}\n`;
  return out;
}
