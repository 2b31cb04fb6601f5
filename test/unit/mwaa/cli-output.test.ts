import { describe, expect, it } from 'vitest';
import { parseJsonOutput } from '../../../src/mwaa/cli-output.js';

describe('parseJsonOutput', () => {
  it('takes the JSON document out of surrounding log lines', () => {
    const stdout = '[2026-11-26 09:00:00] INFO - Filling up the DagBag\n[{"a": 1},\n {"b": [2]}]\nDone.\n';
    expect(parseJsonOutput(stdout)).toEqual([{ a: 1 }, { b: [2] }]);
  });
  it('plain JSON', () => expect(parseJsonOutput(' {"x": true} ')).toEqual({ x: true }));
  it('no JSON at all', () => expect(parseJsonOutput('No data found')).toBeUndefined());
});
