// How the soak campaign groups its failed curls for the report.
import { describe, expect, test } from 'vitest';
import { failureClass, slope } from './soak-campaign.js';

describe('soak campaign helpers', () => {
  test("failureClass keeps curl's exit code and replaces the figures", () => {
    expect(failureClass('curl failed: curl: (28) Connection timed out after 10002 milliseconds')).toBe('curl failed: curl: (28) Connection timed out after N milliseconds');
    expect(failureClass('curl failed: curl: (28) Operation timed out after 10001 milliseconds with 0 bytes received')).toBe('curl failed: curl: (28) Operation timed out after N milliseconds with N bytes received');
    expect(failureClass('curl failed: curl: (7) Failed to connect to 10.70.100.10 port 8080 after 3 ms: Could not connect to server')).toBe(
      'curl failed: curl: (7) Failed to connect to N.N.N.N port N after N ms: Could not connect to server',
    );
  });

  test('slope: KB per minute of a straight line, 0 for one sample', () => {
    expect(slope([0, 1, 2], [100, 110, 120])).toBe(10);
    expect(slope([5], [1])).toBe(0);
  });
});
