import { describe, expect, it } from 'vitest';
import * as errors from './errors.js';
import { WIRE_ERRORS, WIRE_ERROR_COUNT, wireErrorCode, wireErrorName } from './errors.js';

describe('wire error codes', () => {
  it('numeric and string forms map both ways for every code', () => {
    for (let code = 1; code <= WIRE_ERROR_COUNT; code++) {
      expect(wireErrorCode(wireErrorName(code))).toBe(code);
    }
  });

  it('every E_* constant names the entry at its index (the list order is a contract)', () => {
    const constants = Object.entries(errors).filter(([k]) => k.startsWith('E_'));
    expect(constants.length).toBe(WIRE_ERROR_COUNT);
    for (const [name, value] of constants) {
      const expected = name.slice(2).toLowerCase().replace(/_/g, '-');
      expect(WIRE_ERRORS[(value as number) - 1]).toBe(expected);
    }
  });

  it('keeps the first codes stable (counters and dashboards key on them)', () => {
    expect(WIRE_ERRORS.slice(0, 5)).toEqual(['truncated', 'bad-version', 'bad-header-length', 'bad-total-length', 'bad-checksum']);
  });
});
