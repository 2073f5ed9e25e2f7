// A small text bar chart for the demo: which real server answered what share of requests.

export interface BarRow {
  label: string;
  count: number;
  /** The share the scheduler should give this row (0..1), printed next to the actual one. */
  expectedShare?: number;
}

/**
 * One line per row: label, a bar `width` characters at most (scaled to the largest count),
 * the count, the actual share and the expected one. Negative or fractional counts are
 * treated as given (bars never go below zero); an empty table renders as ''.
 */
export function formatBarChart(rows: readonly BarRow[], width = 40): string {
  if (rows.length === 0) return '';
  const total = rows.reduce((sum, r) => sum + Math.max(0, r.count), 0);
  const max = Math.max(1, ...rows.map((r) => r.count));
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  const countWidth = String(Math.max(0, ...rows.map((r) => Math.trunc(r.count)))).length;
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  return rows
    .map((r) => {
      const n = Math.max(0, r.count);
      const len = Math.round((n / max) * width);
      const bar = '█'.repeat(len).padEnd(width);
      const share = total > 0 ? n / total : 0;
      const expected = r.expectedShare !== undefined ? `  (expected ${pct(r.expectedShare).trim()})` : '';
      return `  ${r.label.padEnd(labelWidth)} ${bar} ${String(Math.trunc(n)).padStart(countWidth)}  ${pct(share)}${expected}\n`;
    })
    .join('');
}
