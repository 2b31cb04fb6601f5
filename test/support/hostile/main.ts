/**
 * The hostile harness as a child process, for driving the real CLI without sharing an event loop
 * with the test (a 2 GiB body or an SSH server's crypto runs here, not in the test worker):
 *
 *   node --import tsx test/support/hostile/main.ts
 *
 * It reads one JSON request per line on stdin and answers one JSON line on stdout, with the same
 * `id`:
 *   {"id": 1, "op": "start", "spec": <WorldSpec>}  → {"id": 1, "world": {"dir", "configPath", "env", "hostPorts"}}
 *   {"id": 2, "op": "stats", "dir": "..."}         → {"id": 2, "stats": {<remote>: <ServerStats>, "ssh": {...}}}
 *   {"id": 3, "op": "close", "dir": "..."}         → {"id": 3, "closed": true}
 * and {"id": n, "error": "..."} when a request fails. When stdin ends it closes every world and exits.
 */
import { createInterface } from 'node:readline';
import { startWorld, type World, type WorldSpec } from './world.js';

export interface WorldHandle {
  dir: string;
  configPath: string;
  env: string;
  hostPorts: World['hostPorts'];
}

const worlds = new Map<string, World>();

function stats(world: World): Record<string, unknown> {
  return { ...Object.fromEntries(Object.entries(world.servers).map(([name, server]) => [name, server.stats])), ssh: world.ssh.stats };
}

async function handle(request: { id: number; op: string; spec?: WorldSpec; dir?: string }): Promise<Record<string, unknown>> {
  switch (request.op) {
    case 'start': {
      const world = await startWorld(request.spec ?? {});
      worlds.set(world.dir, world);
      const handle: WorldHandle = { dir: world.dir, configPath: world.configPath, env: world.env, hostPorts: world.hostPorts };
      return { world: handle };
    }
    case 'stats': {
      const world = worlds.get(request.dir ?? '');
      if (!world) throw new Error(`no world ${request.dir}`);
      return { stats: stats(world) };
    }
    case 'close': {
      const world = worlds.get(request.dir ?? '');
      worlds.delete(request.dir ?? '');
      await world?.close();
      return { closed: true };
    }
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let request: { id: number; op: string };
  try {
    request = JSON.parse(line) as { id: number; op: string };
  } catch {
    process.stdout.write(`${JSON.stringify({ id: -1, error: `not JSON: ${line.slice(0, 100)}` })}\n`);
    return;
  }
  handle(request).then(
    (answer) => process.stdout.write(`${JSON.stringify({ id: request.id, ...answer })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ id: request.id, error: (error as Error).message })}\n`),
  );
});
lines.on('close', () => {
  void Promise.all([...worlds.values()].map((w) => w.close())).finally(() => process.exit(0));
});
