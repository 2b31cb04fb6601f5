import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { SSHD_BINARY, renderSshdConfig, sshFiles } from '../../src/sshd.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('sshd-config-');

describe('sshd_config', () => {
  it('is accepted by the real sshd -t', () => {
    const files = sshFiles(tmp());
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', files.hostKey]);
    writeFileSync(files.authorizedKeys, '');
    writeFileSync(files.config, renderSshdConfig(files, 2222, 'root'));
    mkdirSync('/run/sshd', { recursive: true });
    execFileSync(SSHD_BINARY, ['-t', '-f', files.config]);
  });
});
