import { describe, expect, it } from 'vitest';
import { formatBarChart } from './bar-chart.js';

describe('formatBarChart', () => {
  it('scales bars to the largest count and prints actual and expected shares', () => {
    const out = formatBarChart(
      [
        { label: 'rs1', count: 50, expectedShare: 1 / 6 },
        { label: 'rs2', count: 100, expectedShare: 2 / 6 },
        { label: 'rs3', count: 150, expectedShare: 3 / 6 },
      ],
      6,
    );
    expect(out).toBe(
      [
        '  rs1 ██      50   16.7%  (expected 16.7%)',
        '  rs2 ████   100   33.3%  (expected 33.3%)',
        '  rs3 ██████ 150   50.0%  (expected 50.0%)',
        '',
      ].join('\n'),
    );
  });

  it('handles zero counts, no expectation and an empty table', () => {
    expect(formatBarChart([{ label: 'a', count: 0 }], 4)).toBe('  a      0    0.0%\n');
    expect(formatBarChart([{ label: 'long', count: 3 }, { label: 'b', count: -2 }], 3)).toBe('  long ███ 3  100.0%\n  b        0    0.0%\n');
    expect(formatBarChart([])).toBe('');
  });
});
