/**
 * One SSH connection per server, reused for every command and the SFTP read of that server.
 * Host keys are verified against the pinned key (fail closed: no pinned key and no explicit
 * "accept" means no connection), the handshake has a deadline, and every command has a timeout.
 */
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import type {
  Algorithms,
  ClientChannel,
  ConnectConfig,
  NegotiatedAlgorithms,
  ParsedKey,
  PublicKeyAuthMethod,
  ServerHostKeyAlgorithm,
  SFTPWrapper,
  Stats,
} from 'ssh2';
import { fingerprint, hostKeyAlgorithmsFor, PREFERRED_HOST_KEY_ALGORITHMS, type PublicKey } from './host-key.js';

const { Client } = ssh2;

/**
 * What we offer, best first: the algorithms cheapest for this client, then fallbacks so that any
 * stock OpenSSH server (and one hardened to curve25519 or chacha20 only) still negotiates.
 *
 * Key exchange: ecdh-sha2-nistp256 first. ssh2 runs it on a crypto.ECDH object with raw points,
 * while its curve25519 exchange builds KeyObjects and round-trips them through DER (export the
 * public key twice, wrap the server's in SPKI and decode it with OpenSSL 3's decoders); measured
 * in Node 20 that is about 0.25 ms of CPU per handshake against 0.7 ms, paid once per server.
 * curve25519 stays offered right after, for servers configured without the NIST curves.
 * Ciphers: AES-GCM first (AES-NI, through ssh2's native binding; no separate MAC), then
 * chacha20-poly1305 and AES-CTR with encrypt-then-MAC SHA-2.
 */
export const ALGORITHMS: Readonly<Required<Omit<Algorithms, 'serverHostKey'>>> = {
  kex: ['ecdh-sha2-nistp256', 'curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group14-sha256'],
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
  compress: ['none'],
};

/** How the server's host key is judged. */
export type HostKeyPolicy =
  | { mode: 'pinned'; key: PublicKey }
  /** Only learn the key: the handshake stops right after the server presents it. */
  | { mode: 'collect' };

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  /** Absent only in collect mode. */
  privateKey?: ParsedKey;
  hostKey: HostKeyPolicy;
  /** Deadline for TCP connect, handshake and authentication together, retries included. */
  connectTimeoutMs: number;
  keepaliveMs: number;
  /** Extra attempts after a refused, reset or dropped connection (sshd drops beyond MaxStartups). */
  retries: number;
  now: () => number;
}

export type ConnectFailure = 'refused' | 'timeout' | 'host-key' | 'auth' | 'dropped' | 'network';

export class SshConnectError extends Error {
  constructor(
    message: string,
    readonly kind: ConnectFailure,
    /** The key the server presented, when the handshake got that far. */
    readonly presentedKey?: Buffer,
  ) {
    super(message);
    this.name = 'SshConnectError';
  }
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export class CommandTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no result within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'CommandTimeoutError';
  }
}

export class RemoteFileError extends Error {
  constructor(
    message: string,
    readonly kind: 'missing' | 'too-large' | 'not-a-file' | 'other',
  ) {
    super(message);
    this.name = 'RemoteFileError';
  }
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;
const READ_CHUNK = 32 * 1024;
/** How long close() lets the disconnect message leave before it destroys the socket. */
const CLOSE_GRACE_MS = 500;

export class SshConnection {
  private sftpSession: Promise<SFTPWrapper> | undefined;

  constructor(
    private readonly client: InstanceType<typeof Client>,
    /** The host key the server presented (verified unless the policy was accept). */
    readonly hostKey: Buffer,
    /** The algorithms the handshake settled on (absent in collect mode, which stops before). */
    readonly negotiated?: NegotiatedAlgorithms,
  ) {}

  /** Runs one command line (already quoted) on a new channel of this connection. */
  exec(command: string, options: { timeoutMs: number; maxOutputBytes?: number }): Promise<ExecResult> {
    const cap = options.maxOutputBytes ?? 64 * 1024;
    return new Promise((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        // Best effort: ask the server to kill the process, then drop the channel.
        try {
          channel?.signal('KILL');
          channel?.close();
        } catch {
          /* the channel is gone already */
        }
        reject(new CommandTimeoutError(options.timeoutMs));
      }, options.timeoutMs);
      const failed = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      // ssh2 throws at once when the connection is already gone.
      try {
        this.client.exec(command, (error, stream) => {
          if (error) {
            failed(error);
            return;
          }
          if (settled) {
            stream.close();
            return;
          }
          channel = stream;
          const out = new CappedBuffer(cap);
          const err = new CappedBuffer(cap);
          let code: number | null = null;
          let signal: string | null = null;
          stream.on('data', (chunk: Buffer) => out.push(chunk));
          stream.stderr.on('data', (chunk: Buffer) => err.push(chunk));
          stream.on('exit', (exitCode: number | null, exitSignal?: string) => {
            code = exitCode ?? null;
            signal = exitSignal ?? null;
          });
          stream.on('close', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ code, signal, stdout: out.text(), stderr: err.text(), truncated: out.truncated || err.truncated });
          });
        });
      } catch (error) {
        failed(error as Error);
      }
    });
  }

  /**
   * Reads a whole file over SFTP, refusing (before reading anything) a file larger than maxBytes,
   * and stopping at maxBytes + 1 in case it grows between the stat and the read.
   */
  async readFile(path: string, options: { maxBytes: number; timeoutMs: number }): Promise<Buffer> {
    return withTimeout(this.readFileUnbounded(path, options.maxBytes), options.timeoutMs);
  }

  private async readFileUnbounded(path: string, maxBytes: number): Promise<Buffer> {
    const sftp = await this.sftp();
    // stat and open go out together (one round trip, not two); nothing is read before the size
    // is known to be within the limit.
    const statting = new Promise<Stats>((resolve, reject) =>
      sftp.stat(path, (error, result) => (error ? reject(sftpError(error, path)) : resolve(result))),
    );
    const opening = new Promise<Buffer>((resolve, reject) =>
      sftp.open(path, 'r', (error, result) => (error ? reject(sftpError(error, path)) : resolve(result))),
    );
    const [stat, open] = await Promise.allSettled([statting, opening]);
    const release = () => {
      if (open.status === 'fulfilled') sftp.close(open.value, () => undefined);
    };
    if (stat.status === 'rejected') {
      release();
      throw stat.reason;
    }
    const stats = stat.value;
    if (!stats.isFile()) {
      release();
      throw new RemoteFileError(`${path} is not a regular file`, 'not-a-file');
    }
    if (stats.size > maxBytes) {
      release();
      throw new RemoteFileError(`${path} is ${stats.size} bytes, over the limit of ${maxBytes}`, 'too-large');
    }
    if (open.status === 'rejected') throw open.reason;
    const handle = open.value;
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      // Read up to the size stat reported (never past maxBytes + 1, so a file that grows
      // meanwhile cannot make us read more than the limit). More bytes than stat reported mean
      // the file changed under us, or a server whose stat lies.
      const expected = stats.size;
      while (total < expected || total === 0) {
        const want = Math.min(READ_CHUNK, maxBytes + 1 - total);
        if (want <= 0) break;
        const buffer = Buffer.alloc(want);
        const read = await new Promise<number>((resolve, reject) =>
          sftp.read(handle, buffer, 0, want, total, (error, bytesRead) => {
            // End of file arrives as status EOF (1) from some servers.
            if (error && (error as { code?: unknown }).code !== SFTP_EOF) reject(sftpError(error, path));
            else resolve(error ? 0 : bytesRead);
          }),
        );
        if (read === 0) break;
        chunks.push(buffer.subarray(0, read));
        total += read;
      }
      if (total > maxBytes) {
        throw new RemoteFileError(`${path} grew over the limit of ${maxBytes} bytes while being read`, 'too-large');
      }
      if (total > expected) {
        throw new RemoteFileError(`${path} holds more than the ${expected} bytes its stat reported (it changed while being read)`, 'other');
      }
      return Buffer.concat(chunks, total);
    } finally {
      // Not awaited: the connection closes right after, and the answer carries nothing we need.
      sftp.close(handle, () => undefined);
    }
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) => this.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
    return this.sftpSession;
  }

  /**
   * Ends the connection: end() sends SSH_MSG_DISCONNECT and half-closes the socket, which a server
   * that stopped answering never closes from its side, so the socket would keep the process
   * alive. (ssh2's destroy() does nothing once end() has run.) The socket is destroyed after a
   * short grace for the goodbye to leave.
   */
  close(): void {
    const socket = (this.client as unknown as { _sock?: Socket })._sock;
    this.client.end();
    if (!socket || socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => clearTimeout(timer));
  }
}

/** The host key a server presents, without authenticating (first-time setup). */
export async function fetchHostKey(options: Omit<ConnectOptions, 'hostKey' | 'privateKey' | 'keepaliveMs'>): Promise<Buffer> {
  const connection = await connect({ ...options, hostKey: { mode: 'collect' }, keepaliveMs: 0 });
  connection.close();
  return connection.hostKey;
}

/** Connects and authenticates, retrying dropped connections until the deadline. */
export async function connect(options: ConnectOptions): Promise<SshConnection> {
  const deadline = options.now() + options.connectTimeoutMs;
  let attempt = 0;
  for (;;) {
    try {
      return await connectOnce(options, deadline - options.now());
    } catch (error) {
      const retryable = error instanceof SshConnectError && (error.kind === 'refused' || error.kind === 'dropped');
      const backoff = 200 * 2 ** attempt + Math.random() * 100;
      if (!retryable || attempt >= options.retries || options.now() + backoff >= deadline) throw error;
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}

function connectOnce(options: ConnectOptions, timeoutMs: number): Promise<SshConnection> {
  const where = `${options.user}@${options.host}:${options.port}`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: Buffer | undefined;
    let hostKeyRejected = false;
    let settled = false;
    const fail = (error: SshConnectError) => {
      if (settled) return;
      settled = true;
      client.end();
      client.destroy();
      reject(error);
    };
    const policy = options.hostKey;
    const hostVerifier = (key: Buffer): boolean => {
      presented = Buffer.from(key);
      if (policy.mode === 'collect') {
        // The key is all we came for; refusing it ends the handshake before authentication.
        if (!settled) {
          settled = true;
          resolve(new SshConnection(client, presented));
        }
        return false;
      }
      const ok = presented.equals(policy.key.blob);
      if (!ok) hostKeyRejected = true;
      return ok;
    };

    let negotiated: NegotiatedAlgorithms | undefined;
    client.once('handshake', (algorithms: NegotiatedAlgorithms) => {
      negotiated = algorithms;
    });
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolve(new SshConnection(client, presented as Buffer, negotiated));
    });
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (settled) return;
      if (hostKeyRejected && policy.mode === 'pinned') {
        fail(
          new SshConnectError(
            `host key mismatch for ${options.host}:${options.port}: the server presented ${fingerprint(presented as Buffer)}, ` +
              `the config pins ${fingerprint(policy.key.blob)}; refusing to connect`,
            'host-key',
            presented,
          ),
        );
        return;
      }
      if (policy.mode === 'pinned' && error.level === 'handshake' && /host key/i.test(error.message)) {
        fail(
          new SshConnectError(
            `${options.host}:${options.port} offers no ${policy.key.type} host key, the type the config pins (${error.message})`,
            'host-key',
          ),
        );
        return;
      }
      fail(classify(error, where, timeoutMs, options.privateKey));
    });
    client.on('close', () => {
      if (!settled) fail(new SshConnectError(`${where}: connection closed before authentication finished`, 'dropped'));
    });

    const auth: PublicKeyAuthMethod[] = options.privateKey ? [{ type: 'publickey', username: options.user, key: options.privateKey }] : [];
    const config: ConnectConfig = {
      host: options.host,
      port: options.port,
      username: options.user,
      readyTimeout: Math.max(1, Math.round(timeoutMs)),
      keepaliveInterval: options.keepaliveMs,
      keepaliveCountMax: 3,
      hostVerifier,
      algorithms: {
        ...ALGORITHMS,
        serverHostKey: (policy.mode === 'pinned'
          ? hostKeyAlgorithmsFor(policy.key.type)
          : [...PREFERRED_HOST_KEY_ALGORITHMS]) as ServerHostKeyAlgorithm[],
      },
      // Only our key, once: no "none" probe, no agent, no keyboard-interactive.
      authHandler: auth,
    };
    try {
      client.connect(config);
      declineHostKeyUpdates(client);
      // Requests and answers are small: send each at once rather than waiting on Nagle.
      client.setNoDelay(true);
    } catch (error) {
      fail(new SshConnectError(`${where}: ${(error as Error).message}`, 'network'));
    }
  });
}

/** OpenSSH's notice of all its host keys, sent once authentication succeeds (UpdateHostKeys). */
export const HOSTKEYS_NOTICE = 'hostkeys-00@openssh.com';

type GlobalRequestHandler = (protocol: unknown, name: string, wantReply: boolean, data: unknown) => void;

/**
 * Ignores OpenSSH's host key notice. ssh2 answers every such notice by asking the server to prove
 * it holds each of its host keys: one more round trip, a signature per key on the server (RSA
 * ones cost milliseconds) and a verification per key here, for keys it only hands to a
 * 'hostkeys' listener we never add (the key we trust is the pinned one, verified during the key
 * exchange). The notice wants no reply. ssh2 has no option for this, so its handler for global
 * requests is wrapped; every other request still goes to it. Returns false, changing nothing,
 * when ssh2's internals are not as expected (the notice is then proved as before).
 */
export function declineHostKeyUpdates(client: object): boolean {
  const protocol = (client as { _protocol?: { _handlers?: Record<string, unknown>; requestFailure?: () => void } })._protocol;
  const handlers = protocol?._handlers;
  const original = handlers?.GLOBAL_REQUEST;
  if (!protocol || !handlers || typeof original !== 'function' || typeof protocol.requestFailure !== 'function') return false;
  const forward = original as GlobalRequestHandler;
  handlers.GLOBAL_REQUEST = ((p, name, wantReply, data) => {
    if (name !== HOSTKEYS_NOTICE) return forward(p, name, wantReply, data);
    if (wantReply) protocol.requestFailure?.();
  }) satisfies GlobalRequestHandler;
  return true;
}

function classify(
  error: Error & { level?: string; code?: string },
  where: string,
  timeoutMs: number,
  key: ParsedKey | undefined,
): SshConnectError {
  const code = error.code;
  if (code === 'ECONNREFUSED') {
    return new SshConnectError(`${where}: connection refused (is sshd running and listening on that port?)`, 'refused');
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /before handshake|lost|reset/i.test(error.message)) {
    return new SshConnectError(`${where}: connection dropped during the handshake (${error.message})`, 'dropped');
  }
  if (error.level === 'client-timeout') {
    return new SshConnectError(`${where}: no SSH handshake within ${(timeoutMs / 1000).toFixed(1)} s`, 'timeout');
  }
  if (error.level === 'client-authentication') {
    const keyPrint = key ? ` (key ${fingerprint(key.getPublicSSH())})` : '';
    return new SshConnectError(`${where}: the server rejected our key${keyPrint}; is its public key in authorized_keys?`, 'auth');
  }
  if (error.level === 'handshake') {
    return new SshConnectError(`${where}: SSH handshake failed (${error.message})`, 'network');
  }
  return new SshConnectError(`${where}: ${code ? `${code} ` : ''}${error.message}`, 'network');
}

function sftpError(error: Error & { code?: unknown }, path: string): Error {
  if (error.code === SFTP_NO_SUCH_FILE) return new RemoteFileError(`${path} does not exist`, 'missing');
  if (error.code === SFTP_PERMISSION_DENIED) return new RemoteFileError(`${path}: permission denied`, 'other');
  return new RemoteFileError(`${path}: ${error.message}`, 'other');
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CommandTimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Collects output up to a cap; the rest is counted as truncated, not kept. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept.length < chunk.length) this.truncated = true;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8');
  }
}
