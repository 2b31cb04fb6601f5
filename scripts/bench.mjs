#!/usr/bin/env node
// Runs every benchmark in bench/ (or those named: npm run bench -- generate check), each printing
// its own side-by-side table. Benchmarks that need the local stack bring it up first (idempotent).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const wanted = process.argv.slice(2);
const all = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'support.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const chosen = wanted.length > 0 ? all.filter((name) => wanted.includes(name)) : all;
const needsStack = chosen.some((name) => name !== 'generate');

const step = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
// The peers some benchmarks compare with (awscli, pssh) and the stack's programs.
if (needsStack) step(process.execPath, [join(root, 'scripts/prerequisites.mjs'), '--bench']);
step('npm', ['run', '--silent', 'build']);
if (needsStack) step(process.execPath, ['dist/cli.js', 'local', 'up']);
let failed = 0;
for (const name of chosen) {
  process.stdout.write(`\n##### bench/${name}.ts\n`);
  const result = spawnSync(join(root, 'node_modules/.bin/tsx'), [join('bench', `${name}.ts`)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
