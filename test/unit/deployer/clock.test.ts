import { describe, expect, it } from 'vitest';
import { formatElapsed, parseDuration } from '../../../src/deployer/clock.js';

describe('parseDuration', () => {
  it.each([
    ['45m', 2_700_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['120', 120_000],
    ['500ms', 500],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'abc', '10x', '5m junk'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(/Invalid duration/));
  it('formats elapsed time', () => {
    expect(formatElapsed(65_000)).toBe('1m05s');
    expect(formatElapsed(9_999)).toBe('9s');
  });
});
