import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { describe, expect, it } from 'vitest';
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { keyFromFile, keyFromSecret, parsePrivateKey, withDecodedSigner } from '../../../src/runtime-check/ssh-key.js';
import { UserError } from '../../../src/errors.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir('ssh-key-test-');
const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf';

function newKey(dir: string, passphrase = ''): { path: string; text: string } {
  const path = join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', path]);
  return { path, text: readFileSync(path, 'utf8') };
}

/** The body of the key, which must never appear in a message. */
function keyBody(text: string): string {
  return text.split('\n')[2] as string;
}

function secretsClient(answer: () => unknown) {
  const sent: unknown[] = [];
  return {
    sent,
    client: {
      send: async (command: unknown) => {
        sent.push(command);
        return answer();
      },
    } as never,
  };
}

describe('parsePrivateKey', () => {
  it('accepts an OpenSSH key, with CRLF line ends, or pasted as one line with literal \\n', () => {
    const { text } = newKey(tmp());
    expect(parsePrivateKey(text, 'k').type).toBe('ssh-ed25519');
    expect(parsePrivateKey(text.replace(/\n/g, '\r\n'), 'k').type).toBe('ssh-ed25519');
    expect(parsePrivateKey(text.trim().replace(/\n/g, '\\n'), 'k').type).toBe('ssh-ed25519');
  });

  it('refuses empty text, public keys, garbage and passphrase-protected keys without echoing them', () => {
    const dir = tmp();
    const { path } = newKey(dir);
    const pub = readFileSync(`${path}.pub`, 'utf8');
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      [pub, /holds a public key|does not hold a usable SSH private key/],
      [`-----BEGIN OPENSSH ${'PRIVATE'} KEY-----\nnot really\n-----END OPENSSH ${'PRIVATE'} KEY-----`, /does not hold a usable/],
    ];
    for (const [input, message] of cases) {
      expect(() => parsePrivateKey(input, 'the secret X')).toThrow(message);
    }
    const encrypted = newKey(tmp(), 'secret-passphrase').text;
    let caught: unknown;
    try {
      parsePrivateKey(encrypted, 'the secret X');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as Error).message).toMatch(/passphrase-protected/);
    expect((caught as Error).message).not.toContain(keyBody(encrypted));
  });
});

/** ssh2's own reading of a key file (what the check signed with before it decoded keys once). */
function ssh2Key(text: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw parsed;
  return Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
}

describe('the key signs as ssh2 signs, with the key decoded once', () => {
  // Keys from ssh-keygen, in OpenSSH's format and in PEM; signatures checked by ssh2's verify of
  // the .pub file ssh-keygen wrote beside each key.
  const types: Array<{ args: string[]; type: string; hashes: Array<string | undefined>; deterministic: boolean }> = [
    { args: ['-t', 'ed25519'], type: 'ssh-ed25519', hashes: [undefined], deterministic: true },
    { args: ['-t', 'ecdsa', '-b', '256'], type: 'ecdsa-sha2-nistp256', hashes: [undefined], deterministic: false },
    { args: ['-t', 'ecdsa', '-b', '384'], type: 'ecdsa-sha2-nistp384', hashes: [undefined], deterministic: false },
    { args: ['-t', 'ecdsa', '-b', '521'], type: 'ecdsa-sha2-nistp521', hashes: [undefined], deterministic: false },
    { args: ['-t', 'rsa', '-b', '2048'], type: 'ssh-rsa', hashes: [undefined, 'sha256', 'sha512'], deterministic: true },
    { args: ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], type: 'ssh-rsa', hashes: ['sha256'], deterministic: true },
  ];
  for (const { args, type, hashes, deterministic } of types) {
    it(`${type} (${args.join(' ')})`, () => {
      const path = join(tmp(), 'id');
      execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', 'test', '-f', path]);
      const text = readFileSync(path, 'utf8');
      const key = parsePrivateKey(text, 'k');
      const theirs = ssh2Key(text);
      const pub = ssh2Key(readFileSync(`${path}.pub`, 'utf8'));
      expect(key.type).toBe(type);
      expect(key.isPrivateKey()).toBe(true);
      expect(key.getPublicSSH().equals(pub.getPublicSSH())).toBe(true);
      // ssh2 takes it for a parsed key (it parses anything else again).
      expect(ssh2.utils.parseKey(key as never)).toBe(key);
      for (const hash of hashes) {
        for (const data of [randomBytes(200), randomBytes(200)]) {
          const signature = key.sign(data, hash);
          expect(signature).toBeInstanceOf(Buffer);
          expect(pub.verify(data, signature, hash)).toBe(true);
          expect(pub.verify(randomBytes(200), signature, hash)).toBe(false);
          if (deterministic) expect(signature.equals(theirs.sign(data, hash))).toBe(true);
        }
      }
    });
  }

  it('leaves a key type it does not know to ssh2', () => {
    const { text } = newKey(tmp());
    const unknown = Object.assign(Object.create(ssh2Key(text)), { type: 'sk-ssh-ed25519@openssh.com' }) as ParsedKey;
    expect(withDecodedSigner(unknown)).toBe(unknown);
  });

  it('returns a signing failure as an Error, as ssh2 does', () => {
    const { text } = newKey(tmp());
    const result = parsePrivateKey(text, 'k').sign(Buffer.from('x'), 'no-such-hash') as unknown;
    expect(result).toBeInstanceOf(Error);
    expect(ssh2Key(text).sign(Buffer.from('x'), 'no-such-hash')).toBeInstanceOf(Error);
  });
});

describe('keyFromSecret', () => {
  it('reads the raw key by ARN', async () => {
    const { text } = newKey(tmp());
    const { client, sent } = secretsClient(() => ({ SecretString: text }));
    const loaded = await keyFromSecret(client, arn, null);
    expect(loaded.source).toBe('secrets-manager');
    expect(loaded.key.type).toBe('ssh-ed25519');
    expect((sent[0] as GetSecretValueCommand).input).toEqual({ SecretId: arn });
  });

  it('reads a JSON field when configured, and SecretBinary', async () => {
    const { text } = newKey(tmp());
    const json = secretsClient(() => ({ SecretString: JSON.stringify({ private_key: text }) }));
    expect((await keyFromSecret(json.client, arn, 'private_key')).key.type).toBe('ssh-ed25519');
    const binary = secretsClient(() => ({ SecretBinary: new TextEncoder().encode(text) }));
    expect((await keyFromSecret(binary.client, arn, null)).key.type).toBe('ssh-ed25519');
  });

  it('explains JSON problems without the secret value', async () => {
    const { text } = newKey(tmp());
    const missing = secretsClient(() => ({ SecretString: JSON.stringify({ other: text }) }));
    await expect(keyFromSecret(missing.client, arn, 'private_key')).rejects.toThrow(`The secret ${arn} has no string field "private_key".`);
    const notJson = secretsClient(() => ({ SecretString: text }));
    const error = (await keyFromSecret(notJson.client, arn, 'private_key').catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(`The secret ${arn} is not JSON, but secrets.sshKeyJsonField is "private_key".`);
  });

  it('lets the SDK error through as it is, for the runtime check to explain', async () => {
    const denied = Object.assign(new Error('User: arn:aws:iam::1:user/x is not authorized to perform: secretsmanager:GetSecretValue'), {
      name: 'AccessDeniedException',
    });
    const failing = {
      send: async () => {
        throw denied;
      },
    } as never;
    expect(await keyFromSecret(failing, arn, null).catch((e: unknown) => e)).toBe(denied);
  });
});

describe('keyFromFile', () => {
  it('reads an identity file', async () => {
    const { path } = newKey(tmp());
    expect((await keyFromFile(path)).source).toBe('identity-file');
  });

  it('is a usage error (exit 2) when the file is missing', async () => {
    const error = (await keyFromFile('/nonexistent/id_ed25519').catch((e: unknown) => e)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('Cannot read the identity file /nonexistent/id_ed25519 (ENOENT).');
  });
});

describe('the AWS SDK is loaded only for a key in Secrets Manager', () => {
  /**
   * A child process whose module loader refuses @aws-sdk/*: the check's modules and a key from a
   * file load without it; the Secrets Manager path needs it (the control: the hook does refuse).
   */
  function withoutSdk(body: string): { code: number | null; output: string } {
    const root = join(import.meta.dirname, '..', '..', '..');
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier.startsWith('@aws-sdk/')) throw new Error('loaded the AWS SDK: ' + specifier);
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
    const script = `const checkModule = await import(${JSON.stringify(join(root, 'src/runtime-check/index.ts'))});
      const keys = await import(${JSON.stringify(join(root, 'src/runtime-check/ssh-key.ts'))});
      if (typeof checkModule.runRuntimeCheck !== 'function') throw new Error('no runRuntimeCheck');
      ${body}`;
    try {
      const output = execFileSync(
        process.execPath,
        ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script],
        {
          cwd: root,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          // Synchronous: the test's own timeout could not stop a child that hangs.
          timeout: 30_000,
        },
      );
      return { code: 0, output };
    } catch (error) {
      const failed = error as { status: number | null; stdout: string; stderr: string };
      return { code: failed.status, output: failed.stdout + failed.stderr };
    }
  }

  it('a check with an identity file never loads it; reading the secret does', () => {
    const { path } = newKey(tmp());
    const fromFile = withoutSdk(
      `const loaded = await keys.keyFromFile(${JSON.stringify(path)}); console.log(loaded.source, loaded.key.type);`,
    );
    expect(fromFile.output).toContain('identity-file ssh-ed25519');
    expect(fromFile.code).toBe(0);
    const fromSecret = withoutSdk(`await keys.keyFromSecret({ send: async () => ({ SecretString: 'x' }) }, ${JSON.stringify(arn)}, null);`);
    expect(fromSecret.code).not.toBe(0);
    expect(fromSecret.output).toContain('loaded the AWS SDK: @aws-sdk/client-secrets-manager');
  }, 60_000);
});
