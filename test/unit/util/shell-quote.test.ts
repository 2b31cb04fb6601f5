import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shlexSplit } from '../../../local-stack/src/control-plane/shlex.js';
import { shellJoin, shellQuote } from '../../../src/util/shell-quote.js';

/** What a real POSIX shell makes of the quoted command: one argument each. */
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
  JSON.stringify({ gpu_server_ip: '10.0.0.1', note: 'it\'s "quoted" \\ and $HOME `x` ; | &' }),
  ' leading and trailing ',
];

/** A seeded corpus of random strings over the characters that matter to shells. */
function randomCorpus(count: number): string[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const alphabet = `ab '"\\$\`{}:;,\n\t=-_é*?~!&|<>()#`;
  return Array.from({ length: count }, () =>
    Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
  );
}

describe('shellQuote', () => {
  it.each([
    ['gpu_server_cicd_workflow', 'gpu_server_cicd_workflow'],
    ['-o', '-o'],
    ['', "''"],
    ['a b', "'a b'"],
    ['{"k":"v"}', `'{"k":"v"}'`],
    ["it's", `'it'"'"'s'`],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
  ])('quotes %j as %s', (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });

  it.each(tricky)('a real shell receives %j unchanged', (arg) => {
    expect(shellArgs(shellQuote(arg))).toEqual([arg]);
  });

  it('keeps every argument of a command separate, in a real shell and in shlex.split', () => {
    const argv = [...tricky, ...randomCorpus(300)];
    expect(shellArgs(shellJoin(argv))).toEqual(argv);
    expect(shlexSplit(shellJoin(argv))).toEqual(argv);
  });

  it('rejects NUL, which no argument can carry, and an empty command', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(() => shellJoin([])).toThrow(/Empty/);
  });
});
