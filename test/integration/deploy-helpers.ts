/**
 * Helpers for the deploy integration tests: run the real CLI against the local stack, count S3
 * writes at moto (its request recorder) and MWAA calls at the control plane (/_local/stats),
 * and write config variants to temp files.
 */
import { GetEnvironmentCommand, type MWAAClient } from '@aws-sdk/client-mwaa';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { LocalStackState } from '../../local-stack/src/state.js';
import { requireStack, stackFetch } from '../support/stack.js';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** The running stack (fails, never skips, when it is not up or degraded). */
/** Until the environment is AVAILABLE or UPDATE_FAILED: GetEnvironment every 0.5 s, for at most 5 minutes. */
export async function untilEnvironmentSettled(mwaa: Pick<MWAAClient, 'send'>, name: string): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const status = (await mwaa.send(new GetEnvironmentCommand({ Name: name }))).Environment?.Status;
    if (status === 'AVAILABLE' || status === 'UPDATE_FAILED') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the environment ${name} did not settle within 5 minutes`);
}

export function requireLocalStack(): LocalStackState {
  return requireStack();
}

/** config/config.yaml with `environments.local` patched; returns the temp file's path. */
export function configVariant(patch: Record<string, unknown> = {}): string {
  const doc = parseDocument(readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8'));
  for (const [path, value] of Object.entries(patch)) doc.setIn(['environments', 'local', ...path.split('.')], value);
  const dir = mkdtempSync(join(tmpdir(), 'deploy-it-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

/**
 * config/config.yaml plus an environment `env` that reaches the stack's servers, secret and bucket
 * through explicit settings (not `localStack: true`), so that its Airflow version or its MWAA
 * endpoint can differ from the stack's; `mwaa` and `endpoints` on top. Returns the temp file's path.
 */
export function explicitStackEnvironment(
  stack: LocalStackState,
  env: string,
  options: { airflowVersion?: string; mwaa?: Record<string, unknown>; endpoints?: Record<string, string> } = {},
): string {
  const doc = parseDocument(readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8'));
  doc.setIn(['environments', env], {
    airflow: { version: options.airflowVersion ?? stack.airflowVersion },
    mwaa: {
      environmentName: stack.environmentName,
      region: stack.region,
      accountId: '123456789012',
      bucket: stack.bucket,
      ...options.mwaa,
    },
    aws: { endpoints: { ...stack.endpoints, ...options.endpoints }, ...(stack.tls ? { caBundle: stack.tls.caCert } : {}) },
    secrets: { sshKeyArn: stack.secretArn },
    ssh: { user: stack.ssh.user },
    servers: [
      {
        name: 'local-gpu',
        host: stack.ssh.host,
        port: stack.ssh.port,
        workspacePath: stack.workspace,
        hostPublicKey: stack.ssh.hostPublicKey,
      },
    ],
    git: { repoUrl: stack.git.remoteUrl, branch: stack.git.branch },
  });
  const file = join(mkdtempSync(join(tmpdir(), `config-${env}-`)), 'config.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI when present (what users run), else the TypeScript sources through tsx. */
export function cliCommand(): string[] {
  const built = join(repoRoot, 'dist/cli.js');
  // `node --import tsx`, not the tsx launcher: signals must reach the deploy process itself.
  return existsSync(built) ? [built] : ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts')];
}

export function startDeploy(args: string[], env: NodeJS.ProcessEnv = {}) {
  return startCommand('deploy', args, env);
}

/** `check ...` with the built CLI, as a user runs it. */
export function runCheck(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startCommand('check', args, env).done;
}

function startCommand(command: 'deploy' | 'check', args: string[], env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const child = spawn(process.execPath, [...cliCommand(), command, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolveRun) =>
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr, ms: performance.now() - started })),
  );
  return { child, done, output: () => ({ stdout, stderr }) };
}

export function runDeploy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startDeploy(args, env).done;
}

interface RecordedRequest {
  method: string;
  url: string;
  userAgent: string;
}

/** Moto's request recorder: every request moto serves between start() and stop(). */
export class MotoRecorder {
  constructor(private readonly endpoint: string) {}

  async start(): Promise<void> {
    await fetch(`${this.endpoint}/moto-api/recorder/reset-recording`, { method: 'POST' });
    await fetch(`${this.endpoint}/moto-api/recorder/start-recording`, { method: 'POST' });
  }

  async stop(): Promise<RecordedRequest[]> {
    await fetch(`${this.endpoint}/moto-api/recorder/stop-recording`, { method: 'POST' });
    const text = await (await fetch(`${this.endpoint}/moto-api/recorder/download-recording`)).text();
    // Moto serves requests on several threads and appends one JSON line per request without
    // locking, so two entries can land on one line: split them where one ends and one begins.
    const entries = text
      .split('\n')
      .flatMap((line) => line.split(/(?<=\})(?=\{"headers")/))
      .filter((chunk) => chunk.trim());
    return entries.map((chunk) => {
      const entry = JSON.parse(chunk) as { method: string; url: string; headers?: Record<string, string> };
      const headers = Object.fromEntries(Object.entries(entry.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      return { method: entry.method, url: entry.url, userAgent: headers['user-agent'] ?? '' };
    });
  }
}

/** S3 writes to one bucket as "METHOD key", in order. */
export function s3Writes(requests: RecordedRequest[], bucket: string): string[] {
  return s3Requests(requests, bucket).filter((r) => /^(PUT|POST|DELETE) /.test(r));
}

/** `client`: keep only requests whose User-Agent contains it (e.g. `app/<AWS_SDK_UA_APP_ID>`, `aws-cli`). */
export function s3Requests(requests: RecordedRequest[], bucket: string, client?: string): string[] {
  const out: string[] = [];
  for (const request of requests) {
    if (client && !request.userAgent.includes(client)) continue;
    const url = new URL(request.url);
    const parts = url.pathname.split('/');
    if (parts[1] !== bucket) continue;
    const key = decodeURIComponent(parts.slice(2).join('/'));
    // The JS SDK tags requests with `x-id=<Operation>`; it says nothing about what is written.
    url.searchParams.delete('x-id');
    const query = url.searchParams.toString();
    out.push(`${request.method} ${key}${query ? `?${query}` : ''}`);
  }
  return out;
}

export interface ControlPlaneStats {
  requests: {
    GetEnvironment: number;
    UpdateEnvironment: number;
    CreateCliToken: number;
    CreateWebLoginToken: number;
    Cli: number;
    WebLogin: number;
    RestApi: number;
    Other: number;
  };
  /** CLI requests in flight now, and the most at once since the last reset. */
  cli: { inFlight: number; maxInFlight: number };
}

/** POSTs a switch to the control plane's /_local/ tooling (behaviour, status). */
export async function controlPlaneSet(state: LocalStackState, path: 'behaviour' | 'status', body: object): Promise<void> {
  const res = await stackFetch(state)(`${state.endpoints.mwaa}/_local/${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`POST /_local/${path} answered ${res.status}: ${await res.text()}`);
}

/** Starts counting the most concurrent CLI requests afresh. */
export async function resetCliPeak(state: LocalStackState): Promise<void> {
  const res = await stackFetch(state)(`${state.endpoints.mwaa}/_local/stats/cli-peak`, { method: 'DELETE' });
  if (res.status !== 200) throw new Error(`DELETE /_local/stats/cli-peak answered ${res.status}`);
}

export async function controlPlaneStats(state: LocalStackState): Promise<ControlPlaneStats> {
  const res = await stackFetch(state)(`${state.endpoints.mwaa}/_local/stats`);
  if (res.status !== 200) throw new Error(`GET /_local/stats answered ${res.status}`);
  return (await res.json()) as ControlPlaneStats;
}

export function statsDelta(before: ControlPlaneStats, after: ControlPlaneStats): ControlPlaneStats['requests'] {
  const out = {} as Record<string, number>;
  for (const [k, v] of Object.entries(after.requests)) out[k] = v - ((before.requests as unknown as Record<string, number>)[k] ?? 0);
  return out as unknown as ControlPlaneStats['requests'];
}

// ---- Driving the deployer library in-process (same wiring as the CLI) -------------------------

import { hostname, userInfo } from 'node:os';
import { createAwsClients } from '../../src/mwaa/clients.js';
import { loadConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/deployer/clock.js';
import { deploy, type DeployOptions, type DeployResult } from '../../src/deployer/deploy.js';
import type { DeployEvent } from '../../src/deployer/events.js';
import { defaultDeployOptions, deployDeps, deploySettings, deployTargets } from '../../src/deployer/from-config.js';
import type { DeployTarget } from '../../src/deployer/plan.js';
import { generateEnvironment } from '../../src/generator/generate.js';
import type { DagLibrary } from '../../src/generator/render-dag-library.js';
import { currentDeployer, dagMarker } from '../../src/workflows/deploy.js';
import { PLUGIN_MODULES } from '../../src/generator/render-plugins.js';
import { readTemplateFile } from '../../src/generator/templates.js';
import { deterministicZip } from '../../src/generator/zip.js';
import { sha256Hex } from '../../src/util/stable-json.js';
import pkg from '../../package.json' with { type: 'json' };
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';

/** plugins.zip with one extra top-level module: a real plugins change (or a broken one). */
export async function pluginsVariant(extraModule: { name: string; source: string }): Promise<Buffer> {
  return deterministicZip([
    ...PLUGIN_MODULES.map((name) => ({ name, bytes: readTemplateFile(`plugins/${name}`) })),
    { name: extraModule.name, bytes: Buffer.from(extraModule.source) },
  ]);
}

export function withPlugins(targets: DeployTarget[], bytes: Buffer): DeployTarget[] {
  return targets.map((t) =>
    t.kind === 'plugins' ? { ...t, sha256: sha256Hex(bytes), size: bytes.length, source: { type: 'bytes', bytes } } : t,
  );
}

export interface LibDeployInput {
  configPath: string;
  plugins?: Buffer;
  options?: Partial<DeployOptions>;
  emit?: (event: DeployEvent) => void;
  /** Adjust the settings (e.g. a wrong Airflow version, to see the refusal). */
  settings?: Partial<ReturnType<typeof deploySettings>>;
  /** Another DAG library than the templates give (a library-only upgrade). */
  library?: DagLibrary;
}

export async function libDeploy(input: LibDeployInput): Promise<DeployResult> {
  return (await prepareLibDeploy(input))();
}

/** Loads, generates and wires everything, and returns the deploy itself to start later. */
export async function prepareLibDeploy(input: LibDeployInput): Promise<() => Promise<DeployResult>> {
  const config = await loadConfig({
    configPath: input.configPath,
    env: 'local',
    cwd: repoRoot,
    localStackOverlay: () => runningStackOverlay(process.env, repoRoot),
  });
  const generated = await generateEnvironment(config, pkg.version, input.library);
  let targets = deployTargets(generated);
  if (input.plugins) targets = withPlugins(targets, input.plugins);
  const clients = createAwsClients(config);
  const deps = deployDeps(config, clients, systemClock, input.emit ?? (() => {}), currentDeployer(userInfo().username, hostname()));
  const options = { ...defaultDeployOptions(config, 600_000, dagMarker(generated)), trigger: false, ...input.options };
  return () => deploy({ ...deploySettings(config, generated, pkg.version), ...input.settings }, targets, options, deps);
}
