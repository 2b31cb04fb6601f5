import { describe, expect, it } from 'vitest';
import { cliBody, quoteArg } from '../../../src/deployer/shell-quote.js';
import { shlexSplit } from '../../../src/local/control-plane/shlex.js';

describe('quoteArg', () => {
  it.each([
    ['gpu_server_cicd_workflow', 'gpu_server_cicd_workflow'],
    ['-o', '-o'],
    ['', "''"],
    ['a b', "'a b'"],
    ['{"k":"v"}', `'{"k":"v"}'`],
    ["it's", `'it'"'"'s'`],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
  ])('quotes %j as %s', (input, expected) => {
    expect(quoteArg(input)).toBe(expected);
  });

  it('rejects NUL', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/);
  });
});

describe('cliBody round-trips through the shlex splitting MWAA does', () => {
  const awkward = [
    JSON.stringify({ gpu_server_ip: '10.0.0.1', note: "it's \"quoted\" \\ and $HOME `x` ; | &" }),
    "'",
    '"',
    '\\',
    ' leading and trailing ',
    'tab\tnew\nline',
    'ünïcödé ✓',
    '',
  ];
  it.each(awkward)('argument %j survives', (arg) => {
    const argv = ['dags', 'trigger', 'my_dag', '-c', arg];
    expect(shlexSplit(cliBody(argv))).toEqual(argv);
  });

  it('survives random strings', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = `ab '"\\$\`{}:;,\n\t=-_é`;
    for (let i = 0; i < 500; i += 1) {
      const arg = Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      expect(shlexSplit(cliBody(['variables', 'get', arg]))).toEqual(['variables', 'get', arg]);
    }
  });

  it('refuses an empty command', () => {
    expect(() => cliBody([])).toThrow(/Empty/);
  });
});
