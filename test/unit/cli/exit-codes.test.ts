import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODE_MEANINGS, EXIT_CODES_EPILOG } from '../../../src/cli/help.js';
import { ExitCode } from '../../../src/errors.js';
import { repoRoot } from '../../support/cli.js';

describe('exit codes', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

  it.each(Object.entries(ExitCode))('%s (%i) is documented in --help and the README', (name, code) => {
    const [number, meaning] = EXIT_CODE_MEANINGS[name as keyof typeof ExitCode];
    expect(number).toBe(code);
    expect(EXIT_CODES_EPILOG.split('\n')).toContain(`  ${code} ${meaning}`);
    expect(readme).toContain(`| ${code} | ${meaning} |`);
  });

  it('the README lists no code the CLI does not have', () => {
    const table = [...readme.matchAll(/^\| (\d+) \| /gm)].map((m) => Number(m[1]));
    expect(table.sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
  });
});
