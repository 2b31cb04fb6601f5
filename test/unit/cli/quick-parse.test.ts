import { describe, expect, it } from 'vitest';
import { GENERATE_OPTIONS } from '../../../src/cli/commands/generate.js';
import { quickParse } from '../../../src/cli/quick-parse.js';

const parse = (argv: string[]) => quickParse(argv, 'generate', GENERATE_OPTIONS);

describe('quickParse (generate without yargs)', () => {
  it('takes a plain line: known flags with values, defaults filled in', () => {
    expect(parse(['generate', '--env', 'prod', '-q', '--out=x'])).toEqual({
      _: ['generate'],
      $0: 'mwaa-gpu-cicd',
      env: 'prod',
      all: false,
      check: false,
      json: false,
      config: 'config/config.yaml',
      out: 'x',
      quiet: true,
      verbose: false,
    });
  });

  // Each of these goes to yargs, which parses it (and words its errors) as for every command.
  it.each([
    [['generate', '--evn', 'dev']],
    [['generate', '--env']],
    [['generate', '--env', '--all']],
    [['generate', '--env', 'a', '--env', 'b']],
    [['generate', '--no-check']],
    [['generate', '--help']],
    [['generate', '--version']],
    [['generate', 'extra']],
    [['generate', '--', '--env']],
    [['generate', '-q', '-v']],
    [['deploy', '--env', 'dev']],
  ])('leaves %j to yargs', (argv) => {
    expect(parse(argv)).toBeUndefined();
  });
});
