/**
 * Pinned SSH host keys: parsing the OpenSSH public key line from the config, the fingerprint
 * users compare with `ssh-keygen -lf`, and the host key algorithms to offer for a pinned type
 * (offering only the pinned type makes the server present exactly the key we can verify).
 */
import { createHash } from 'node:crypto';

export interface PublicKey {
  /** Key type, e.g. `ssh-ed25519`. */
  type: string;
  /** The raw key blob (the base64 part of the line, decoded): what the server sends in the handshake. */
  blob: Buffer;
}

/** Parses `ssh-ed25519 AAAA... [comment]`; throws when the line is not a well-formed public key. */
export function parsePublicKeyLine(line: string): PublicKey {
  const [type, data] = line.trim().split(/\s+/);
  if (!type || !data || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
    throw new Error('expected an OpenSSH public key line such as "ssh-ed25519 AAAA..."');
  }
  const blob = Buffer.from(data, 'base64');
  if (blobType(blob) !== type) throw new Error(`the key data does not hold a ${type} key`);
  return { type, blob };
}

/** The type name the blob starts with (an SSH string: uint32 length, then the bytes). */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.toString('latin1', 4, 4 + length);
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The config line for a key the server presented. */
export function publicKeyLine(blob: Buffer): string {
  return `${blobType(blob) ?? 'unknown'} ${blob.toString('base64')}`;
}

/** Host key algorithms to offer, best first. */
export const PREFERRED_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
] as const;

/** The algorithms that make a server present a key of the pinned type. */
export function hostKeyAlgorithmsFor(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [type];
}
