import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pythonLiteral } from '../../../src/generator/python-literal.js';

const hostile = [
  'plain',
  'quote " and \' and """ triple',
  'backslash \\ and \\n literal',
  'new\nline and\r\ncarriage',
  "'''); import os; os.system('id'); ('",
  '{{handlebars}} and #comment',
  'unicode ü € 𝔘 \u2028 \u0000 nul',
  '\ud800 lone surrogate',
];

describe('pythonLiteral against the real python3', () => {
  it('emits Python values that round-trip through the real interpreter', () => {
    const value = { strings: hostile, n: 42, f: 1.5, neg: -3, t: true, f2: false, none: null, nested: { z: [1, 'x'], a: {} } };
    const script = `import json, sys\nvalue = ${pythonLiteral(value)}\nsys.stdout.write(json.dumps(value, sort_keys=True))`;
    const out = execFileSync('python3', ['-c', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(value)));
  });
});
