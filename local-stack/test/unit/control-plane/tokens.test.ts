import { describe, expect, it } from 'vitest';
import { TokenStore } from '../../../src/control-plane/tokens.js';

describe('TokenStore', () => {
  it('accepts a token until its TTL has passed, then rejects it', () => {
    let now = 1_000_000;
    const store = new TokenStore(60_000, () => now);
    const { token, expiresAtMs } = store.issue('env-a');
    expect(expiresAtMs).toBe(1_060_000);
    expect(store.verify(token)).toBe('env-a');
    now += 59_999;
    expect(store.verify(token)).toBe('env-a');
    now += 1;
    expect(store.verify(token)).toBeUndefined();
  });

  it('rejects unknown and tampered tokens', () => {
    const store = new TokenStore(60_000, () => 0);
    const { token } = store.issue('env-a');
    expect(store.verify(`${token}x`)).toBeUndefined();
    expect(store.verify(token.slice(1))).toBeUndefined();
    expect(store.verify('')).toBeUndefined();
  });

  it('issues distinct 256-bit tokens and drops expired ones', () => {
    let now = 0;
    const store = new TokenStore(1000, () => now);
    const a = store.issue('e').token;
    const b = store.issue('e').token;
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    now = 5000;
    store.issue('e');
    expect(store.size).toBe(1);
  });
});
