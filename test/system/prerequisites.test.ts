import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../support/tmp.js';

const repo = resolve(import.meta.dirname, '../..');
const tmp = useTmpDir('prerequisites-');

describe('npm test prerequisites', () => {
  it('pass quickly on a provisioned machine', () => {
    const started = Date.now();
    const result = spawnSync(process.execPath, ['scripts/prerequisites.mjs'], { cwd: repo, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    // Checking only (an install would say so on stderr, and take far longer).
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('without root and with programs missing, stop at once with the one command that installs them', () => {
    expect(process.getuid?.(), 'this test switches to the user nobody, which needs root').toBe(0);
    const dir = tmp();
    chmodSync(dir, 0o755);
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    // A PATH with node only: ssh-keygen, git, curl, zsh and fish are not found.
    const result = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', 'env', `PATH=${bin}`, 'HOME=/nonexistent', 'node', 'scripts/prerequisites.mjs'],
      {
        cwd: repo,
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "Missing: ssh-keygen; git; curl (a third-party client of the stack's HTTPS endpoint); zsh; fish.\n" +
        'Install it, then run this again:\n' +
        '  sudo apt-get update && sudo apt-get install -y --no-install-recommends openssh-client git curl zsh fish\n',
    );
  });
});
