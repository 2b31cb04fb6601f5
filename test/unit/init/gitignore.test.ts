import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withIgnored } from '../../../src/init/gitignore.js';
import { runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

describe('.gitignore entries', () => {
  it('creates, appends only what is missing, and never repeats an entry however it is spelt', () => {
    expect(withIgnored(undefined)).toBe('dist-artifacts/\n.local-stack/\n');
    expect(withIgnored('node_modules')).toBe('node_modules\ndist-artifacts/\n.local-stack/\n');
    expect(withIgnored('/dist-artifacts\nnode_modules/\n')).toBe('/dist-artifacts\nnode_modules/\n.local-stack/\n');
    expect(withIgnored('dist-artifacts\r\n.local-stack/\r\n')).toBeUndefined();
  });

  it('init adds them to the project .gitignore once', () => {
    const cwd = tmp();
    writeFileSync(join(cwd, '.gitignore'), 'node_modules/\n');
    const first = runCli(['init'], { cwd });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('Added dist-artifacts/ and .local-stack/ to .gitignore.');
    expect(readFileSync(join(cwd, '.gitignore'), 'utf8')).toBe('node_modules/\ndist-artifacts/\n.local-stack/\n');
    const again = runCli(['init', '--force'], { cwd });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('.gitignore');
    expect(readFileSync(join(cwd, '.gitignore'), 'utf8')).toBe('node_modules/\ndist-artifacts/\n.local-stack/\n');
  });
});
