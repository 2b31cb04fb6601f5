/**
 * Entry point of the local MWAA control plane (dist/control-plane.js), started by
 * `npm run local -- up` as `node dist/control-plane.js --state <root>/state.json`.
 * A daemon, so it owns its own output: one JSON line per event on stdout.
 */
import { parseArgs } from 'node:util';
import { startControlPlane } from './control-plane.js';

function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      state: { type: 'string' },
      port: { type: 'string' },
      'sync-interval': { type: 'string' },
      'token-ttl': { type: 'string' },
    },
    strict: true,
  });
  if (!values.state) throw new Error('usage: control-plane --state <root>/state.json [--port N] [--sync-interval S] [--token-ttl S]');
  const log = (event: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  };
  const handle = await startControlPlane({
    statePath: values.state,
    port: positiveNumber('port', values.port),
    syncIntervalSeconds: positiveNumber('sync-interval', values['sync-interval']),
    tokenTtlSeconds: positiveNumber('token-ttl', values['token-ttl']),
    log,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log({ type: 'signal', signal });
    handle.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log({ type: 'stop-failed', error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
