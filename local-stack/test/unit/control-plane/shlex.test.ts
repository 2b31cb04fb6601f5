import { describe, expect, it } from 'vitest';
import { ShlexError, shlexSplit } from '../../../src/control-plane/shlex.js';

// Expected values are what Python 3.11's shlex.split returns for the same input.
const cases: Array<[string, string[]]> = [
  ['dags list -o json', ['dags', 'list', '-o', 'json']],
  ['  dags   trigger  my_dag  ', ['dags', 'trigger', 'my_dag']],
  [`dags trigger gpu_server_cicd_workflow -c '{"k":"v"}'`, ['dags', 'trigger', 'gpu_server_cicd_workflow', '-c', '{"k":"v"}']],
  ['dags trigger d -c "{\\"k\\": \\"v w\\"}"', ['dags', 'trigger', 'd', '-c', '{"k": "v w"}']],
  ["variables set key 'a b'", ['variables', 'set', 'key', 'a b']],
  ["a''b", ['ab']],
  ["''", ['']],
  ['x "" y', ['x', '', 'y']],
  ['a\\ b c', ['a b', 'c']],
  ['"a\\nb"', ['a\\nb']],
  ['"a\\\\b"', ['a\\b']],
  ['echo $HOME; rm -rf /', ['echo', '$HOME;', 'rm', '-rf', '/']],
  ['tab\tsep\nnewline', ['tab', 'sep', 'newline']],
  [`'a"b'`, ['a"b']],
  [`"a'b"`, ["a'b"]],
  ['', []],
];

describe('shlexSplit', () => {
  it.each(cases)('splits %j like Python shlex.split', (input, expected) => {
    expect(shlexSplit(input)).toEqual(expected);
  });

  it.each([
    ["it's", 'No closing quotation'],
    ['"unterminated', 'No closing quotation'],
    ['trailing\\', 'No escaped character'],
  ])('rejects %j', (input, message) => {
    expect(() => shlexSplit(input)).toThrow(ShlexError);
    expect(() => shlexSplit(input)).toThrow(message);
  });
});
// The round trip with the quoting that clients use is tested in test/unit/shell/quote.test.ts.
