/**
 * The GPU server of the hostile world: an SSH server on 127.0.0.1 (ssh2's Server) that answers
 * the runtime check well (whoami, the checkout's commit and branch, the version file over SFTP)
 * until told to misbehave:
 *
 *   no-banner       accept TCP, never send the SSH identification line
 *   banner-stall    send the identification line, then nothing (no key exchange)
 *   drip            send an identification line one byte a second, forever
 *   reset-kex       send the identification line, read the client's KEXINIT, then a TCP reset
 *   exec-stall      authenticate, then never answer a session request (exec, SFTP)
 *   endless-output  every command prints without end (as fast as the client reads)
 *   lying-stat      SFTP stat says the version file is 12 bytes; reads return data forever
 */
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ServerChannel, SFTPWrapper } from 'ssh2';
import type { WorldState } from './state.js';

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

export const SSH_BEHAVIOURS = ['no-banner', 'banner-stall', 'drip', 'reset-kex', 'exec-stall', 'endless-output', 'lying-stat'] as const;
export type SshBehaviour = 'ok' | (typeof SSH_BEHAVIOURS)[number];

const IDENT = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n';

export interface HostKeyPair {
  /** OpenSSH private key text. */
  private: string;
  /** `ssh-ed25519 AAAA...` */
  public: string;
}

/**
 * A new ed25519 key pair. ssh2's keygen writes about one key in 250 with a 31-byte public key (a
 * leading zero byte dropped), which its own parser then refuses: such a pair is drawn again.
 */
export function generateEd25519(): HostKeyPair {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (utils.parseKey(pair.private) instanceof Error || utils.parseKey(pair.public) instanceof Error) continue;
    return { private: pair.private, public: pair.public.trim().split(/\s+/).slice(0, 2).join(' ') };
  }
}

export class HostileSshServer {
  readonly stats = { connections: 0, execs: 0, sftpReads: 0, outputBytes: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ssh: InstanceType<typeof Server>;
  private readonly net = createNetServer((socket) => this.onConnection(socket));
  private port = 0;

  constructor(
    private readonly state: WorldState,
    readonly hostKey: HostKeyPair,
    private behaviour: SshBehaviour = 'ok',
  ) {
    this.ssh = new Server({ hostKeys: [hostKey.private], ident: 'OpenSSH_9.2p1' }, (client) => this.onClient(client));
  }

  set(behaviour: SshBehaviour): void {
    this.behaviour = behaviour;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.net.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.net.address() as AddressInfo).port;
    return this.port;
  }

  get portNumber(): number {
    return this.port;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.ssh.close();
  }

  private onConnection(socket: Socket): void {
    this.stats.connections += 1;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    switch (this.behaviour) {
      case 'no-banner':
        socket.on('data', () => undefined);
        return;
      case 'banner-stall':
        socket.write(IDENT);
        socket.on('data', () => undefined);
        return;
      case 'drip': {
        const text = `SSH-2.0-${'x'.repeat(100_000)}`;
        let at = 0;
        socket.on('data', () => undefined);
        const timer = setInterval(() => {
          if (socket.destroyed) {
            clearInterval(timer);
            return;
          }
          socket.write(text[at % text.length] as string);
          at += 1;
        }, 1000);
        this.timers.add(timer);
        socket.on('close', () => clearInterval(timer));
        return;
      }
      case 'reset-kex': {
        socket.write(IDENT);
        let seen = 0;
        socket.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          // The client's identification line, then its KEXINIT packet: reset in the middle of kex.
          if (seen > 64) socket.resetAndDestroy();
        });
        return;
      }
      default:
        this.ssh.injectSocket(socket);
    }
  }

  private onClient(client: Connection): void {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method === 'publickey' && ctx.username === this.state.checkout.user) ctx.accept();
      else ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          this.stats.execs += 1;
          if (this.behaviour === 'exec-stall') return; // neither accepted nor refused
          const channel = accept();
          if (this.behaviour === 'endless-output') {
            this.endless(channel);
            return;
          }
          this.exec(channel, info.command);
        });
        session.on('sftp', (accept) => {
          if (this.behaviour === 'exec-stall') return;
          this.sftp(accept());
        });
      });
    });
  }

  private exec(channel: ServerChannel, command: string): void {
    const { checkout } = this.state;
    if (command.startsWith('whoami')) {
      channel.write(`${checkout.user}\n${checkout.commit}\n${checkout.branch}\n`);
      channel.exit(0);
    } else if (command.startsWith('git ')) {
      channel.write(`${checkout.commit}\n${checkout.branch}\n`);
      channel.exit(0);
    } else {
      channel.stderr.write(`harness: no such command: ${command}\n`);
      channel.exit(127);
    }
    channel.end();
  }

  /** Output without end, as fast as the client takes it. */
  private endless(channel: ServerChannel): void {
    const chunk = Buffer.alloc(32 * 1024, 'y\n');
    const pump = () => {
      while (!channel.destroyed) {
        this.stats.outputBytes += chunk.length;
        if (!channel.write(chunk)) {
          channel.once('drain', pump);
          return;
        }
      }
    };
    channel.on('error', () => undefined);
    pump();
  }

  private sftp(sftp: SFTPWrapper): void {
    const content = Buffer.from(this.state.checkout.versionYaml);
    const lying = this.behaviour === 'lying-stat';
    const handles = new Set<string>();
    const attrs = (size: number) => ({ mode: 0o100644, uid: 1000, gid: 1000, size, atime: 0, mtime: 0 });
    sftp.on('error', () => undefined);
    sftp.on('STAT', (id) => sftp.attrs(id, attrs(lying ? 12 : content.length)));
    sftp.on('LSTAT', (id) => sftp.attrs(id, attrs(lying ? 12 : content.length)));
    sftp.on('FSTAT', (id) => sftp.attrs(id, attrs(lying ? 12 : content.length)));
    sftp.on('OPEN', (id, filename) => {
      const handle = Buffer.from(`h${handles.size}`);
      handles.add(handle.toString());
      void filename;
      sftp.handle(id, handle);
    });
    sftp.on('READ', (id, _handle, offset, length) => {
      this.stats.sftpReads += 1;
      if (lying) {
        sftp.data(id, Buffer.alloc(length, 'a'));
        return;
      }
      if (offset >= content.length) {
        sftp.status(id, STATUS.EOF);
        return;
      }
      sftp.data(id, content.subarray(offset, Math.min(content.length, offset + length)));
    });
    sftp.on('CLOSE', (id) => sftp.status(id, STATUS.OK));
  }
}
