import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellCommand, shellQuote } from '../../../src/runtime-check/quote.js';

/** What a real POSIX shell makes of the quoted command: one argument per line. */
function shellArgs(command: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printarg() { for a in "$@"; do printf '%s\\0' "$a"; done; }; printarg ${command}`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

const tricky = [
  '',
  'plain',
  'with space',
  "it's",
  "''",
  '"double"',
  '$HOME',
  '$(touch /tmp/pwned)',
  '`id`',
  'a;b&&c||d|e',
  '*',
  '~',
  '-n',
  'back\\slash',
  'line\nbreak',
  'tab\there',
  '!bang',
  'ünïcödé ✓',
  "/home/ubuntu/work space/it's here",
];

describe('shellQuote', () => {
  it('always single-quotes, escaping embedded single quotes', () => {
    expect(shellQuote('plain')).toBe("'plain'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it.each(tricky)('a real shell receives %j unchanged', (arg) => {
    expect(shellArgs(shellQuote(arg))).toEqual([arg]);
  });

  it('keeps every argument of a command separate', () => {
    expect(shellArgs(shellCommand(tricky))).toEqual(tricky);
  });

  it('rejects NUL, which no argument can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('rejects an empty command', () => {
    expect(() => shellCommand([])).toThrow();
  });
});
