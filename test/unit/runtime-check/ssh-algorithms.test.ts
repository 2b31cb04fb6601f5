/**
 * What the runtime check offers in the SSH handshake, and the host key notice it declines. The
 * negotiation itself against OpenSSH is in test/integration/check-ssh.test.ts.
 */
import ssh2 from 'ssh2';
import constants from 'ssh2/lib/protocol/constants.js';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, declineHostKeyUpdates, HOSTKEYS_NOTICE } from '../../../src/runtime-check/ssh.js';

const supported = constants;

describe('the algorithms offered', () => {
  it('are all ones ssh2 implements, without duplicates', () => {
    const lists = [
      [ALGORITHMS.kex, supported.SUPPORTED_KEX],
      [ALGORITHMS.cipher, supported.SUPPORTED_CIPHER],
      [ALGORITHMS.hmac, supported.SUPPORTED_MAC],
    ] as const;
    for (const [offered, known] of lists) {
      expect(known).toEqual(expect.arrayContaining([...(offered as string[])]));
      expect(new Set(offered as string[]).size).toBe((offered as string[]).length);
    }
  });

  it('put the exchange ssh2 runs cheapest first, with curve25519 next for servers without NIST curves', () => {
    expect(ALGORITHMS.kex).toEqual([
      'ecdh-sha2-nistp256',
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      'diffie-hellman-group14-sha256',
    ]);
  });

  it('put AES-GCM first and keep chacha20-poly1305, with no CBC, SHA-1 or compression', () => {
    expect((ALGORITHMS.cipher as string[]).slice(0, 3)).toEqual([
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com',
      'chacha20-poly1305@openssh.com',
    ]);
    expect((ALGORITHMS.cipher as string[]).filter((name) => /cbc|arcfour|3des/.test(name))).toEqual([]);
    expect((ALGORITHMS.hmac as string[]).filter((name) => /sha1|md5/.test(name))).toEqual([]);
    expect((ALGORITHMS.kex as string[]).filter((name) => /sha1|group1-|exchange/.test(name))).toEqual([]);
    expect(ALGORITHMS.compress).toEqual(['none']);
  });
});

/** The shape declineHostKeyUpdates works on: ssh2's protocol object with its message handlers. */
function fakeClient() {
  const forwarded: unknown[][] = [];
  let failures = 0;
  const client = {
    _protocol: {
      _handlers: { GLOBAL_REQUEST: (...args: unknown[]) => forwarded.push(args) } as Record<string, unknown>,
      requestFailure() {
        failures += 1;
      },
    },
  };
  const handler = () => client._protocol._handlers.GLOBAL_REQUEST as (...args: unknown[]) => void;
  return { client, forwarded, handler, failures: () => failures };
}

describe('declineHostKeyUpdates', () => {
  it("drops OpenSSH's host key notice, which wants no reply, without asking for proofs", () => {
    const { client, forwarded, handler, failures } = fakeClient();
    expect(declineHostKeyUpdates(client)).toBe(true);
    handler()('proto', HOSTKEYS_NOTICE, false, [{ type: 'ssh-rsa' }]);
    expect(forwarded).toEqual([]);
    expect(failures()).toBe(0);
  });

  it('refuses the notice when a server asks for a reply', () => {
    const { client, forwarded, handler, failures } = fakeClient();
    declineHostKeyUpdates(client);
    handler()('proto', HOSTKEYS_NOTICE, true, []);
    expect(forwarded).toEqual([]);
    expect(failures()).toBe(1);
  });

  it("hands every other global request to ssh2's handler unchanged", () => {
    const { client, forwarded, handler } = fakeClient();
    declineHostKeyUpdates(client);
    handler()('proto', 'keepalive@openssh.com', true, Buffer.alloc(0));
    expect(forwarded).toEqual([['proto', 'keepalive@openssh.com', true, Buffer.alloc(0)]]);
  });

  it('changes nothing when the client is not shaped as expected', () => {
    expect(declineHostKeyUpdates({})).toBe(false);
    expect(declineHostKeyUpdates({ _protocol: {} })).toBe(false);
    expect(declineHostKeyUpdates({ _protocol: { _handlers: {}, requestFailure: () => undefined } })).toBe(false);
  });

  it("finds the handler in the installed ssh2's client once it connects", () => {
    const client = new ssh2.Client();
    client.on('error', () => undefined);
    // Port 9 (discard) on loopback: nothing listens, so the attempt ends at once; the protocol
    // object and its handlers exist from connect() on.
    client.connect({ host: '127.0.0.1', port: 9, username: 'nobody', readyTimeout: 1000 });
    try {
      expect(declineHostKeyUpdates(client)).toBe(true);
    } finally {
      client.destroy();
    }
  });
});
