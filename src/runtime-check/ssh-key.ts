/**
 * The SSH private key the check authenticates with: from Secrets Manager (the same secret the DAG
 * uses) or a local identity file. Errors name the source and the problem, never the key.
 */
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { ExitCode, UserError } from '../errors.js';

export type KeySource = 'secrets-manager' | 'identity-file' | 'inline';

export interface LoadedKey {
  key: ParsedKey;
  source: KeySource;
}

export type SecretsReader = Pick<SecretsManagerClient, 'send'>;

export async function keyFromSecret(client: SecretsReader, arn: string, jsonField: string | null): Promise<LoadedKey> {
  // Its failures are explained by the caller (src/mwaa/aws-errors.ts). AWS's message cannot hold
  // the key: the request names only the secret, and a failed call returns no value.
  // Loaded here, not at the top: a check with an identity file or an inline key never loads the
  // AWS SDK (about 2 MB of heap that every garbage collection of a fleet-wide check walks again).
  const { secretText } = await import('./secret-text.js');
  let text = await secretText(client, arn);
  if (jsonField !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UserError(`The secret ${arn} is not JSON, but secrets.sshKeyJsonField is "${jsonField}".`);
    }
    const field = (parsed as Record<string, unknown> | null)?.[jsonField];
    if (typeof field !== 'string') throw new UserError(`The secret ${arn} has no string field "${jsonField}".`);
    text = field;
  }
  return { key: parsePrivateKey(text, `the secret ${arn}`), source: 'secrets-manager' };
}

export async function keyFromFile(path: string): Promise<LoadedKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError(`Cannot read the identity file ${path} (${code}).`, ExitCode.usage);
  }
  return { key: parsePrivateKey(text, `the identity file ${path}`, ExitCode.usage), source: 'identity-file' };
}

/** Accepts OpenSSH and PEM keys, CRLF line ends, and a key pasted as one line with literal "\n". */
export function parsePrivateKey(text: string, where: string, exitCode: number = ExitCode.failure): ParsedKey {
  let normalized = text.replace(/\r\n/g, '\n').trim();
  if (!normalized.includes('\n') && normalized.includes('\\n')) normalized = normalized.replace(/\\n/g, '\n');
  if (normalized === '') throw new UserError(`${where} is empty; it should hold an SSH private key.`, exitCode);
  const parsed = ssh2.utils.parseKey(normalized);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const encrypted =
      key instanceof Error && /passphrase|encrypted/i.test(key.message) ? ' (it is passphrase-protected; use an unencrypted key)' : '';
    throw new UserError(`${where} does not hold a usable SSH private key${encrypted}.`, exitCode);
  }
  if (!key.isPrivateKey()) throw new UserError(`${where} holds a public key; the check needs the private key.`, exitCode);
  return withDecodedSigner(key);
}

/** The hash each key type signs with when ssh2 names none, as ssh2's key parser sets it. */
const DEFAULT_HASH: Readonly<Record<string, string | null>> = {
  'ssh-ed25519': null,
  'ssh-rsa': 'sha1',
  'ssh-dss': 'sha1',
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
};

/**
 * The key, signing with a KeyObject decoded once. ssh2's parsed key keeps its private half as PEM
 * text and hands that text to crypto.sign for every signature, so OpenSSL decodes the key again on
 * every connection: under OpenSSL 3 that decoding is most of an ed25519 signature's cost (about
 * 0.8 of 0.9 ms), paid once per server. The signature is the same call on the same key (same
 * bytes for ed25519 and RSA); type, public half and verify stay the parsed key's own. A key type
 * ssh2's parser does not name here keeps ssh2's signing.
 */
export function withDecodedSigner(key: ParsedKey): ParsedKey {
  const fallback = DEFAULT_HASH[key.type];
  if (fallback === undefined) return key;
  let signer: KeyObject;
  try {
    signer = createPrivateKey(key.getPrivatePEM());
  } catch {
    return key;
  }
  // ssh2 returns a signing failure as an Error value (its client checks `instanceof Error`).
  const sign = (data: Buffer | string, algo?: string): Buffer => {
    try {
      return cryptoSign(algo || fallback, typeof data === 'string' ? Buffer.from(data) : data, signer);
    } catch (error) {
      return error as Buffer;
    }
  };
  // The parsed key stays the prototype: ssh2 recognises a parsed key by its own symbol fields.
  return Object.create(key, { sign: { value: sign } }) as ParsedKey;
}
