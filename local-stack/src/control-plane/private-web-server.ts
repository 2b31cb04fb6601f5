/**
 * `WebserverAccessMode: PRIVATE_ONLY`, as it looks from outside the environment's VPC. On MWAA the
 * web server hostname (GetEnvironment's WebserverUrl, the tokens' WebServerHostname) then names a
 * VPC endpoint with private addresses: from anywhere else a connection gets no answer at all. The
 * stack stands in for that with a listener that accepts TCP connections, reads what comes (a
 * request, a TLS ClientHello) and never writes a byte, so a client meets only its own bounds.
 * The MWAA API, S3 and Secrets Manager stay reachable, as they are on AWS.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { DEFAULT_WEBSERVER_ACCESS_MODE, WEBSERVER_ACCESS_MODES } from './environment.js';
import { ServiceError } from './errors.js';

export type AccessMode = (typeof WEBSERVER_ACCESS_MODES)[number];

/** Connections held open at once; past this the oldest is dropped, so a looping client cannot exhaust descriptors. */
const MAX_HELD = 256;

/** The environment's mode, from the settings UpdateEnvironment (or the test switch) recorded. */
export function accessModeOf(record: { inertSettings: Record<string, unknown> }): AccessMode {
  const mode = record.inertSettings.WebserverAccessMode;
  return WEBSERVER_ACCESS_MODES.find((m) => m === mode) ?? DEFAULT_WEBSERVER_ACCESS_MODE;
}

/** A value for the environment's mode (the `/_local/behaviour` switch), checked as UpdateEnvironment checks it. */
export function parseAccessMode(value: unknown): AccessMode {
  const mode = WEBSERVER_ACCESS_MODES.find((m) => m === value);
  if (!mode) throw new ServiceError('ValidationException', `webserverAccessMode must be one of ${WEBSERVER_ACCESS_MODES.join(', ')}.`);
  return mode;
}

export class PrivateWebServer {
  private readonly server: Server = createServer((socket) => this.hold(socket));
  private readonly held = new Set<Socket>();
  /** Connections accepted since start (for /_local/stats). */
  accepted = 0;

  /** Listens on a free loopback port. */
  async start(): Promise<void> {
    await new Promise<void>((resolveListen, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolveListen());
    });
  }

  /** `127.0.0.1:<port>`: the private hostname GetEnvironment and the tokens give in PRIVATE_ONLY. */
  get hostname(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The web server hostname for the environment's mode: `public` unless it is PRIVATE_ONLY. */
  hostnameFor(record: { inertSettings: Record<string, unknown> }, publicHostname: string): string {
    return accessModeOf(record) === 'PRIVATE_ONLY' ? this.hostname : publicHostname;
  }

  stats(): { accepted: number; held: number } {
    return { accepted: this.accepted, held: this.held.size };
  }

  async stop(): Promise<void> {
    for (const socket of this.held) socket.destroy();
    await new Promise<void>((resolveClose) => this.server.close(() => resolveClose()));
  }

  private hold(socket: Socket): void {
    this.accepted += 1;
    if (this.held.size >= MAX_HELD) this.held.values().next().value?.destroy();
    this.held.add(socket);
    socket.on('close', () => this.held.delete(socket));
    socket.on('error', () => undefined);
    // Read and drop: the client's bytes must not pile up in the kernel's buffers.
    socket.on('data', () => undefined);
  }
}
