/**
 * The stack's CA and server certificate as `local up` makes them (with the stack venv's
 * cryptography): what they say (read back by Node's own X.509 parser), that a TLS client trusting
 * the CA alone accepts the server at both names GetEnvironment and clients use, the keys' modes,
 * reuse across runs, and renewal when a file goes missing or a certificate nears its end.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { CA_DAYS, ensureStackTls, MAKE_CERTS, RENEW_WITHIN_MS, SERVER_DAYS, tlsFiles } from '../../src/tls.js';
import { repoRoot, requireStack } from '../../../test/support/stack.js';
import { spawnSync } from 'node:child_process';
import { useTmpDir } from '../../../test/support/tmp.js';

const venvBin = requireStack().venvBin;
const python = join(venvBin, 'python');
const tmp = useTmpDir('stack-tls-');
const DAY = 24 * 3600 * 1000;
const now = new Date();

function cert(path: string): X509Certificate {
  return new X509Certificate(readFileSync(path));
}

/** A TLS handshake to `servername` at a server with the stack's certificate, trusting only the CA. */
async function handshake(root: string, servername: string | undefined): Promise<string> {
  const files = tlsFiles(root);
  const server = createServer({ cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey) }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(files.caCert), ...(servername ? { servername } : {}) });
      socket.setTimeout(10_000, () => socket.destroy(new Error('handshake timed out')));
      socket.once('secureConnect', () => {
        socket.end();
        resolve('verified');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    server.close();
  }
}

describe('the stack CA and server certificate', () => {
  it('the Python that makes them passes ruff (lint and format) with the repository settings', () => {
    const config = join(repoRoot, 'pyproject.toml');
    for (const args of [['check'], ['format', '--check']]) {
      const result = spawnSync(join(venvBin, 'ruff'), [...args, '--config', config, '--stdin-filename', 'make_certs.py', '-'], {
        // The template literal's first line break is not part of the program.
        input: MAKE_CERTS.replace(/^\n/, ''),
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(`${result.stdout}${result.stderr}`, args.join(' ')).not.toMatch(/error|would reformat|reformatted/i);
      expect(result.status, args.join(' ')).toBe(0);
    }
  });

  it('a CA and a server certificate for localhost and 127.0.0.1, keys 0600, valid from now', async () => {
    const root = tmp();
    const { files, renewed } = await ensureStackTls({ root, python, now });
    expect(renewed).toBe('all');
    const ca = cert(files.caCert);
    const server = cert(files.serverCert);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName?.split(', ').sort()).toEqual(['DNS:localhost', 'IP Address:127.0.0.1']);
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    for (const [c, days] of [
      [ca, CA_DAYS],
      [server, SERVER_DAYS],
    ] as const) {
      expect(new Date(c.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());
      expect(Math.round((new Date(c.validTo).getTime() - now.getTime()) / DAY)).toBe(days);
    }
    for (const key of [files.caKey, files.serverKey]) expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(files.dir).mode & 0o077).toBe(0);
    expect(readFileSync(files.caCert, 'utf8')).not.toMatch(/PRIVATE KEY/);
  });

  it('a client that trusts only the CA verifies the server as 127.0.0.1 and as localhost, and no other name', async () => {
    const root = tmp();
    await ensureStackTls({ root, python, now });
    expect(await handshake(root, undefined)).toBe('verified');
    expect(await handshake(root, 'localhost')).toBe('verified');
    expect(await handshake(root, 'example.com')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    // Another stack's CA does not vouch for this server.
    const other = tmp();
    await ensureStackTls({ root: other, python, now });
    writeFileSync(tlsFiles(root).caCert, readFileSync(tlsFiles(other).caCert));
    expect(await handshake(root, 'localhost')).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
  });

  it('reuses what it made, byte for byte, and makes only what is missing or expiring again', async () => {
    const root = tmp();
    const files = tlsFiles(root);
    await ensureStackTls({ root, python, now });
    const before = [files.caCert, files.caKey, files.serverCert, files.serverKey].map((p) => readFileSync(p));
    expect((await ensureStackTls({ root, python, now })).renewed).toBe('none');
    expect([files.caCert, files.caKey, files.serverCert, files.serverKey].map((p) => readFileSync(p))).toEqual(before);

    // The server key gone: a new server certificate from the same CA.
    rmSync(files.serverKey);
    expect((await ensureStackTls({ root, python, now })).renewed).toBe('server');
    expect(readFileSync(files.caCert)).toEqual(before[0]);
    expect(cert(files.serverCert).checkIssued(cert(files.caCert))).toBe(true);

    // Within the renewal window of the server certificate's end: a new one; of the CA's: both.
    const nearServerEnd = new Date(new Date(cert(files.serverCert).validTo).getTime() - RENEW_WITHIN_MS + DAY);
    expect((await ensureStackTls({ root, python, now: nearServerEnd })).renewed).toBe('server');
    expect(readFileSync(files.caCert)).toEqual(before[0]);
    const nearCaEnd = new Date(new Date(cert(files.caCert).validTo).getTime() - DAY);
    expect((await ensureStackTls({ root, python, now: nearCaEnd })).renewed).toBe('all');
    expect(readFileSync(files.caCert)).not.toEqual(before[0]);

    // A CA file that is not a certificate: all made again.
    writeFileSync(files.caCert, 'garbage\n');
    expect((await ensureStackTls({ root, python, now })).renewed).toBe('all');
    expect((await ensureStackTls({ root, python, now })).renewed).toBe('none');
  });
});
