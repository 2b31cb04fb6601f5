#!/usr/bin/env node
// Runs every benchmark in bench/ (or those named: npm run bench -- generate check), each printing
// its own side-by-side table. Benchmarks that need the local stack bring it up first (idempotent).
// Those in ON_REQUEST run only when named: they take minutes or a particular Airflow line.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const wanted = process.argv.slice(2);
const all = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'support.ts')
  .map((f) => f.slice(0, -3))
  .sort();
// fleet: the DAG over 1 and 16 servers on Airflow 3's LocalExecutor, several minutes per run.
const ON_REQUEST = new Map([['fleet', { airflow: '3' }]]);
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`No benchmark ${unknown.join(', ')} in bench/; there are: ${all.join(', ')}.\n`);
  process.exit(2);
}
const chosen = wanted.length > 0 ? all.filter((name) => wanted.includes(name)) : all.filter((name) => !ON_REQUEST.has(name));
const needsStack = chosen.some((name) => name !== 'generate');
const lines = new Set(chosen.map((name) => ON_REQUEST.get(name)?.airflow).filter(Boolean));
if (lines.size > 1) {
  process.stderr.write(`${chosen.join(', ')} need different Airflow lines of the local stack; run them one at a time.\n`);
  process.exit(2);
}
const [line] = lines;

const step = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
// The peers some benchmarks compare with (awscli, pssh) and the stack's programs.
if (needsStack) step(process.execPath, [join(root, 'scripts/prerequisites.mjs'), '--bench']);
step('npm', ['run', '--silent', 'build']);
if (needsStack) step(process.execPath, ['dist/cli.js', 'local', 'up', ...(line ? ['--airflow', line] : [])]);
let failed = 0;
for (const name of chosen) {
  process.stdout.write(`\n##### bench/${name}.ts\n`);
  const result = spawnSync(join(root, 'node_modules/.bin/tsx'), [join('bench', `${name}.ts`)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
