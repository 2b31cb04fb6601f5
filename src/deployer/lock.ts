/**
 * The deploy lock: one object, created with `If-None-Match: *` so exactly one deploy wins. A
 * second deploy fails at once, naming the holder. A lock past its expiry (its holder died) is
 * taken over with `If-Match: <its ETag>`, so two deploys racing for a stale lock cannot both win.
 * A holder that is known dead (same host, pid gone: a deploy killed with SIGKILL) counts as
 * expired. Released by a conditional delete of exactly the object we wrote.
 */
import { UserError } from '../errors.js';
import { isAlive, type ProcessIdentity } from '../util/processes.js';
import { PreconditionFailedError, type S3Port } from './ports.js';

export interface LockHolder {
  holder: string;
  pid: number;
  host: string;
  /** Where `pid` means something (boot and PID namespace); see ProcessIdentity. */
  bootId?: string;
  pidNamespace?: string;
  acquiredAt: string;
  expiresAt: string;
}

export class LockHeldError extends UserError {
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly current: LockHolder | undefined,
  ) {
    const who = current
      ? `${current.holder} (pid ${current.pid} on ${current.host}) since ${current.acquiredAt}; it expires at ${current.expiresAt}`
      : 'another deploy';
    super(
      `Another deploy is in progress: s3://${bucket}/${key} is held by ${who}. ` +
        'Wait for it to finish. If that deploy is dead, its lock can be taken over after it expires, ' +
        `or remove it: aws s3 rm s3://${bucket}/${key}`,
    );
    this.name = 'LockHeldError';
  }
}

export interface LockOptions {
  bucket: string;
  key: string;
  holder: string;
  pid: number;
  host: string;
  identity?: ProcessIdentity;
  now: () => number;
  ttlMs: number;
  /** False when the holder is known to be dead (e.g. its pid is gone on this host): take over at once. */
  holderAlive?: (holder: LockHolder) => boolean | undefined;
}

/**
 * For a holder whose PID means the same here (same host name, boot and PID namespace): is its
 * process still there? Undefined when we cannot tell (another host, a container sharing our host
 * name, an older lock without the identity): such a lock is judged by its expiry only.
 */
export function localHolderAlive(thisHost: string, here: ProcessIdentity): (holder: LockHolder) => boolean | undefined {
  return (holder) => {
    if (holder.host !== thisHost || !Number.isInteger(holder.pid) || holder.pid <= 0) return undefined;
    const samePidSpace =
      here.bootId !== undefined &&
      here.pidNamespace !== undefined &&
      holder.bootId === here.bootId &&
      holder.pidNamespace === here.pidNamespace;
    return samePidSpace ? isAlive(holder.pid) : undefined;
  };
}

export interface DeployLock {
  key: string;
  takenOverFrom?: LockHolder;
  release(): Promise<void>;
}

function parseHolder(body: Uint8Array): LockHolder | undefined {
  try {
    const value = JSON.parse(Buffer.from(body).toString('utf8')) as Partial<LockHolder>;
    if (typeof value.expiresAt !== 'string') return undefined;
    return value as LockHolder;
  } catch {
    return undefined;
  }
}

export async function acquireLock(s3: S3Port, options: LockOptions): Promise<DeployLock> {
  const { bucket, key } = options;
  const now = options.now();
  const mine: LockHolder = {
    holder: options.holder,
    pid: options.pid,
    host: options.host,
    ...options.identity,
    acquiredAt: new Date(now).toISOString(),
    expiresAt: new Date(now + options.ttlMs).toISOString(),
  };
  const body = Buffer.from(`${JSON.stringify(mine, null, 2)}\n`);
  const put = (condition: { ifNoneMatch: '*' } | { ifMatch: string }) =>
    s3.putObject({ bucket, key, body, contentType: 'application/json', ...condition });

  let etag: string | undefined;
  let takenOverFrom: LockHolder | undefined;
  // Two rounds: the lock may be released between our failed create and our read.
  for (let attempt = 0; attempt < 2 && etag === undefined; attempt += 1) {
    try {
      etag = (await put({ ifNoneMatch: '*' })).etag ?? '';
      break;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
    const existing = await s3.getObject(bucket, key);
    if (!existing) continue;
    const holder = parseHolder(existing.body);
    const expired = holder === undefined || Date.parse(holder.expiresAt) <= now || options.holderAlive?.(holder) === false;
    if (!expired || !existing.etag) throw new LockHeldError(bucket, key, holder);
    try {
      etag = (await put({ ifMatch: existing.etag })).etag ?? '';
      takenOverFrom = holder;
    } catch (error) {
      if (error instanceof PreconditionFailedError) throw new LockHeldError(bucket, key, undefined);
      throw error;
    }
  }
  if (etag === undefined) throw new LockHeldError(bucket, key, undefined);

  let released = false;
  const lock: DeployLock = {
    key,
    async release() {
      if (released) return;
      released = true;
      try {
        await s3.deleteObject(bucket, key, etag || undefined);
      } catch (error) {
        // Someone took our lock over after it expired: theirs now, leave it.
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    },
  };
  if (takenOverFrom) lock.takenOverFrom = takenOverFrom;
  return lock;
}
