/**
 * CLI and web login tokens as CreateCliToken / CreateWebLoginToken issue them: random (256 bits),
 * bound to one environment, valid for a fixed time (60 s on MWAA). The clock is injected so expiry
 * is testable without waiting.
 */
import { randomBytes } from 'node:crypto';

export type Clock = () => number;

interface Entry {
  environment: string;
  expiresAtMs: number;
}

export class TokenStore {
  private readonly tokens = new Map<string, Entry>();

  constructor(
    /** Read at each issue, so a test can shorten it on a running control plane. */
    private readonly ttlMs: number | (() => number),
    private readonly now: Clock,
  ) {}

  issue(environment: string): { token: string; expiresAtMs: number } {
    this.prune();
    const token = randomBytes(32).toString('base64url');
    const expiresAtMs = this.now() + (typeof this.ttlMs === 'number' ? this.ttlMs : this.ttlMs());
    this.tokens.set(token, { environment, expiresAtMs });
    return { token, expiresAtMs };
  }

  /** The environment the token belongs to, or undefined when unknown or expired. */
  verify(token: string): string | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAtMs) {
      this.tokens.delete(token);
      return undefined;
    }
    return entry.environment;
  }

  /** Like verify, but the token is spent: a web login token serves one login. */
  consume(token: string): string | undefined {
    const environment = this.verify(token);
    this.tokens.delete(token);
    return environment;
  }

  /** Number of live tokens (expired ones are dropped on each issue). */
  get size(): number {
    return this.tokens.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [token, entry] of this.tokens) if (now >= entry.expiresAtMs) this.tokens.delete(token);
  }
}
