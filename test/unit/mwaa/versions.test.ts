import { describe, expect, it } from 'vitest';
import { newestOfLine, versionMove } from '../../../src/mwaa/versions.js';

describe("MWAA's version moves (user guide: Changing the Apache Airflow version)", () => {
  it.each([
    ['2.10.3', '2.11.2', { steps: ['2.11.2'], newEnvironment: false }],
    ['2.11.2', '2.10.3', { steps: ['2.10.3'], newEnvironment: false }],
    ['3.2.1', '3.3.1', { steps: ['3.3.1'], newEnvironment: false }],
    ['2.11.2', '3.3.1', { steps: ['3.3.1'], newEnvironment: false }],
    ['2.11.0', '3.3.1', { steps: ['2.11.2', '3.3.1'], newEnvironment: false }],
    ['2.10.3', '3.0.6', { steps: ['2.11.2', '3.0.6'], newEnvironment: true }],
    ['2.7.2', '3.3.1', { steps: ['2.11.2', '3.3.1'], newEnvironment: true }],
    ['3.3.1', '2.11.2', { steps: ['2.11.2'], newEnvironment: false }],
    ['3.3.1', '2.10.3', { steps: [], newEnvironment: true }],
    ['3.3.1', '3.3.1', { steps: [], newEnvironment: false }],
  ])('%s → %s', (from, to, move) => {
    expect(versionMove(from, to)).toEqual(move);
  });

  it('the newest of each line is what 2.x moves to 3.x through', () => {
    expect(newestOfLine('2')).toBe('2.11.2');
    expect(newestOfLine('3')).toBe('3.3.1');
  });
});
