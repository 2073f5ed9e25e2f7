// Expected HTTP status codes: single codes and inclusive ranges, e.g. [200, "301-302", "2xx"].

export interface StatusRange {
  low: number;
  high: number;
}

/**
 * Parses status specs: a number (200), "low-high" ("200-299") or a class ("2xx").
 * Returns null for anything else or for codes outside 100..599.
 */
export function parseStatusSpec(spec: number | string): StatusRange | null {
  if (typeof spec === 'number') return Number.isInteger(spec) && spec >= 100 && spec <= 599 ? { low: spec, high: spec } : null;
  const text = spec.trim().toLowerCase();
  let m = /^([1-5])xx$/.exec(text);
  if (m) return { low: Number(m[1]) * 100, high: Number(m[1]) * 100 + 99 };
  m = /^(\d{3})(?:-(\d{3}))?$/.exec(text);
  if (!m) return null;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 100 || high > 599 || low > high) return null;
  return { low, high };
}

export function statusMatches(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.low && status <= r.high);
}

export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.low === r.high ? String(r.low) : `${r.low}-${r.high}`)).join(',');
}
