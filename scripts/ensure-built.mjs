#!/usr/bin/env node
// Runs before `npm run generate|parse|deploy|check|local` in a checkout (npm's pre<script> hooks):
// builds dist/ when it is missing or older than a source it is made from, so that
// `npm install && npm run generate` works on a fresh clone without a build script running in the
// installs of the package's users. A build that is current costs one walk of the sources.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// meta.json is written by every build (the bundle's metafile), unlike outputs esbuild leaves as they were.
const built = join(root, 'dist', 'meta.json');
const SOURCES = ['src', 'templates', 'local-stack/src', 'scripts/build.mjs', 'package.json'];

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

const current = existsSync(built) && SOURCES.every((source) => newestMtime(join(root, source)) <= statSync(built).mtimeMs);
if (!current) {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
