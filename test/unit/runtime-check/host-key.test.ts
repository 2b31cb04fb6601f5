import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobType, fingerprint, hostKeyAlgorithmsFor, parsePublicKeyLine, publicKeyLine } from '../../../src/runtime-check/host-key.js';

const dir = mkdtempSync(join(tmpdir(), 'host-key-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function generate(type: 'ed25519' | 'ecdsa' | 'rsa'): { line: string; keygenFingerprint: string } {
  const path = join(dir, `key_${type}_${count++}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'comment here', '-f', path]);
  const line = readFileSync(`${path}.pub`, 'utf8').trim();
  const keygenFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(
    ' ',
  )[1] as string;
  return { line, keygenFingerprint };
}

describe('host keys', () => {
  it.each(['ed25519', 'ecdsa', 'rsa'] as const)('parses a %s line and fingerprints it as ssh-keygen does', (type) => {
    const { line, keygenFingerprint } = generate(type);
    const key = parsePublicKeyLine(line);
    expect(line.startsWith(key.type)).toBe(true);
    expect(blobType(key.blob)).toBe(key.type);
    expect(fingerprint(key.blob)).toBe(keygenFingerprint);
    expect(publicKeyLine(key.blob)).toBe(line.split(' ').slice(0, 2).join(' '));
  });

  it('refuses lines that are not public keys', () => {
    const { line } = generate('ed25519');
    const data = line.split(' ')[1] as string;
    expect(() => parsePublicKeyLine('')).toThrow(/expected an OpenSSH public key line/);
    expect(() => parsePublicKeyLine('ssh-ed25519')).toThrow(/expected/);
    expect(() => parsePublicKeyLine('ssh-ed25519 not*base64')).toThrow(/expected/);
    // The type word must match the type inside the key data.
    expect(() => parsePublicKeyLine(`ssh-rsa ${data}`)).toThrow(/does not hold a ssh-rsa key/);
    expect(() => parsePublicKeyLine('ssh-ed25519 AAAA')).toThrow(/does not hold/);
  });

  it('offers exactly the pinned key type', () => {
    expect(hostKeyAlgorithmsFor('ssh-ed25519')).toEqual(['ssh-ed25519']);
    expect(hostKeyAlgorithmsFor('ecdsa-sha2-nistp256')).toEqual(['ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithmsFor('ssh-rsa')).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});
