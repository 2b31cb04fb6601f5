/**
 * Every command against every behaviour of every remote it talks to: the real CLI (`node
 * dist/cli.js`, a child process) against a hostile world on 127.0.0.1 (test/support/hostile, run
 * as its own child process), one remote misbehaving at a time, the others answering well enough
 * for the command to reach it. For each pair:
 *   - it ends by itself within the sum of its bounds (MWAA_GPU_CICD_REQUEST_TIMEOUT=2 s per
 *     attempt, AWS_MAX_ATTEMPTS=2, SSH connect 3 s and commands 3 s: README "Limits and timeouts"),
 *   - its peak RSS stays under 250 MiB (a healthy run peaks near 100-150 MiB),
 *   - it exits 1 (never a signal), or 0 where the behaviour cannot touch it (endless pages of a
 *     remote the command never pages),
 *   - its message names the remote, the endpoint host:port and, for AWS errors, the error code;
 *     no stack trace; with --json a JSON document on stdout.
 * The table of every pair (seconds, peak RSS, first line of the message) goes to
 * .test-reports/hostile-matrix.md, with the file's cost. To rerun some pairs only:
 *   HOSTILE_MATRIX_ONLY='deploy --plan × S3' npx vitest run --project system test/system/hostile-matrix.test.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LIST_PAGES } from '../../src/deployer/aws-ports.js';
import { dagTimingOptions, runReadyDelay } from '../../src/deployer/dag-run.js';
import { MAX_PAGES } from '../../src/mwaa/airflow-api.js';
import { mapWithConcurrency } from '../../src/util/concurrency.js';
import { AWS_ERROR_KINDS, type AwsErrorKind, wireError } from '../support/hostile/aws-wire.js';
import type { AwsService } from '../support/hostile/botocore-models.js';
import { HarnessProcess } from '../support/hostile/child.js';
import { HTTP_BEHAVIOURS } from '../support/hostile/http-server.js';
import type { WorldHandle } from '../support/hostile/main.js';
import { type CliOutcome, repoRoot, runCli } from '../support/hostile/run-cli.js';
import { SSH_BEHAVIOURS } from '../support/hostile/ssh-server.js';
import { WORLD_AIRFLOW_OPTIONS } from '../support/hostile/services/mwaa.js';
import { REMOTE_DISPLAY, type Remote, type WorldSpec } from '../support/hostile/world.js';

const REQUEST_TIMEOUT_S = 2;
const ATTEMPTS = 2;
/** The SDK's standard backoff before the one retry: under a second (throttling: base 500 ms). */
const BACKOFF_S = 1;
/** S3 operations whose attempts get OBJECT_TRANSFER_FACTOR request deadlines (src/mwaa/limits.ts). */
const OBJECT_TRANSFERS = ['GetObject', 'PutObject', 'CopyObject'];
const OBJECT_TRANSFER_FACTOR = 5;
/** How often deploy --wait polls a run on MWAA (src/deployer/from-config.ts). */
const RUN_POLL_S = 15;
const SSH = { connectTimeoutSeconds: 3, commandTimeoutSeconds: 3, keepaliveSeconds: 1, connectRetries: 0 };
/** Starting node, loading the SDK, generating the artifacts: a few seconds on a loaded 2-core machine. */
const STARTUP_SLACK_S = 20;
const RSS_BOUND_MIB = 250;
/**
 * Endless pages are answered at once: what bounds that loop is the page cap (MAX_LIST_PAGES for
 * AWS lists, MAX_PAGES for Airflow's), each page a request the CLI signs, sends and parses, which
 * on a loaded 2-core machine may take this long.
 */
const PAGE_S = 0.15;
/**
 * What a deploy that changed the DAG waits before it triggers, at the world's Airflow options (at
 * most: a rollback, which has no build tag to look for, waits until a parse must have stored it).
 */
const RUN_READY_S = runReadyDelay('2', dagTimingOptions(WORLD_AIRFLOW_OPTIONS), false).ms / 1000;
/** Runs at once: the CLI's start is CPU-bound, so about twice the cores. */
const CONCURRENCY = 4;
/** A run still going then did not end by itself. */
const KILL_AFTER_MS = 120_000;

type CommandName = 'deploy --plan' | 'deploy' | 'deploy --wait' | 'deploy --rollback' | 'check' | 'check --compare-variables';

const COMMAND_ARGS: Record<CommandName, string[]> = {
  'deploy --plan': ['deploy', '--plan'],
  deploy: ['deploy', '--yes'],
  'deploy --wait': ['deploy', '--yes', '--wait'],
  'deploy --rollback': ['deploy', '--yes', '--rollback'],
  check: ['check'],
  'check --compare-variables': ['check', '--compare-variables'],
};

/**
 * Where each command meets each remote: the operations the hostility is aimed at (`all`: every
 * one), and whether among them is a paged list (so that endless pages can touch the command).
 * A command is paired with the remotes it talks to, each at the operations it adds to the
 * commands before it: `deploy` meets S3 at its writes, MWAA at the trigger's tokens, CloudWatch at
 * PutMetricAlarm (the plan's reads are `deploy --plan`'s pairs); `deploy --wait` meets the web
 * server at the run's reads, then Secrets Manager and SSH in the smoke check; a rollback meets S3
 * at the records it reads and copies; `check --compare-variables` meets MWAA at the web login (its
 * Secrets Manager and SSH are `check`'s). A TLS handshake cannot be aimed at an operation: it
 * stalls every connection to that remote.
 */
const TARGETS: Record<CommandName, Partial<Record<Remote, { ops: 'all' | string[]; pages: boolean }>>> = {
  // The plan lists the DAG folder's library zips (to remove those no DAG imports).
  'deploy --plan': {
    s3: { ops: 'all', pages: true },
    mwaa: { ops: 'all', pages: false },
    cloudWatch: { ops: 'all', pages: true },
  },
  deploy: {
    s3: { ops: ['PutObject', 'DeleteObject'], pages: false },
    mwaa: { ops: ['CreateWebLoginToken', 'CreateCliToken'], pages: false },
    cloudWatch: { ops: ['PutMetricAlarm'], pages: false },
    webServer: { ops: 'all', pages: true },
  },
  'deploy --wait': {
    webServer: { ops: ['GET dagRun', 'GET taskInstances', 'GET log'], pages: true },
    secretsManager: { ops: 'all', pages: false },
    ssh: { ops: 'all', pages: false },
  },
  // A rollback leaves the alarms alone: it makes no CloudWatch call.
  'deploy --rollback': {
    s3: { ops: ['ListObjectsV2', 'GetObject', 'CopyObject'], pages: true },
    mwaa: { ops: 'all', pages: false },
    webServer: { ops: 'all', pages: true },
  },
  check: {
    secretsManager: { ops: 'all', pages: false },
    ssh: { ops: 'all', pages: false },
  },
  'check --compare-variables': {
    mwaa: { ops: ['CreateWebLoginToken'], pages: false },
    webServer: { ops: 'all', pages: true },
  },
};

const AWS_REMOTES = new Set<Remote>(['s3', 'mwaa', 'cloudWatch', 'secretsManager']);

function behavioursOf(remote: Remote): string[] {
  if (remote === 'ssh') return [...SSH_BEHAVIOURS];
  if (remote === 'webServer') return [...HTTP_BEHAVIOURS];
  return [...HTTP_BEHAVIOURS, ...AWS_ERROR_KINDS];
}

interface Pair {
  command: CommandName;
  remote: Remote;
  behaviour: string;
  pages: boolean;
  spec: WorldSpec;
}

const ALL_PAIRS: Pair[] = (Object.keys(TARGETS) as CommandName[]).flatMap((command) =>
  (Object.entries(TARGETS[command]) as Array<[Remote, { ops: 'all' | string[]; pages: boolean }]>).flatMap(([remote, target]) =>
    behavioursOf(remote).map((behaviour) => ({
      command,
      remote,
      behaviour,
      pages: target.pages,
      spec: { hostile: { remote, behaviour, ...(target.ops === 'all' ? {} : { only: target.ops }) }, ssh: SSH },
    })),
  ),
);
// A run that fails with a task log of 2 GiB: only its tail is read, within the request deadline.
ALL_PAIRS.push({
  command: 'deploy --wait',
  remote: 'webServer',
  behaviour: 'huge-task-log',
  pages: false,
  spec: { runState: 'failed', logBytes: 2 * 1024 ** 3, ssh: SSH },
});

// A web server that is PRIVATE_ONLY, met from outside its VPC: it never answers, and GetEnvironment
// says why. The trigger and the Variables comparison name the access mode and what to do instead.
for (const command of ['deploy', 'check --compare-variables'] as const) {
  ALL_PAIRS.push({
    command,
    remote: 'webServer',
    behaviour: 'never-answer, PRIVATE_ONLY',
    pages: true,
    spec: { hostile: { remote: 'webServer', behaviour: 'never-answer' }, webserverAccessMode: 'PRIVATE_ONLY', ssh: SSH },
  });
}

const label = (p: Pair) => `${p.command} × ${REMOTE_DISPLAY[p.remote]} ${p.behaviour}`;

const only = process.env.HOSTILE_MATRIX_ONLY;
const PAIRS = only ? ALL_PAIRS.filter((p) => label(p).includes(only)) : ALL_PAIRS;

/**
 * The sum of the pair's bounds: a command stops at the first request that fails for good (after
 * its attempts, each at most the deadline, and the backoff between them); the plan reads S3, MWAA
 * and CloudWatch side by side, so three such requests are allowed. An S3 object transfer's attempt
 * has five request deadlines; following a run adds a poll interval. Over SSH: the connect timeout
 * and two rounds of commands (identity and the version file run side by side).
 */
function boundSeconds(p: Pair): number {
  if (p.remote === 'ssh') return STARTUP_SLACK_S + SSH.connectTimeoutSeconds + 2 * SSH.commandTimeoutSeconds;
  const ops = TARGETS[p.command][p.remote]?.ops;
  const transfers = p.remote === 's3' && ops !== 'all' && ops?.some((op) => OBJECT_TRANSFERS.includes(op));
  const attempt = transfers ? OBJECT_TRANSFER_FACTOR * REQUEST_TIMEOUT_S : REQUEST_TIMEOUT_S;
  // Following the run, deploy asks again after its poll interval before it gives up on a run it cannot see.
  const polls = p.command === 'deploy --wait' && p.remote === 'webServer' ? RUN_POLL_S : 0;
  const pages = p.behaviour === 'endless-pages' ? PAGE_S * Math.max(MAX_LIST_PAGES, MAX_PAGES) : 0;
  return STARTUP_SLACK_S + 3 * (ATTEMPTS * attempt + BACKOFF_S) + polls + pages + (p.command.startsWith('deploy') ? RUN_READY_S : 0);
}

/**
 * 1 for a failure; 0 where the behaviour cannot touch the command: endless pages of a remote it
 * reads no list from, and a web login refused (HTTP 403) to `check --compare-variables`, which
 * then reads the Variables through the MWAA CLI commands, as documented.
 */
function expectedExit(p: Pair): number {
  if (p.behaviour === 'endless-pages' && !p.pages) return 0;
  const refusedLogin =
    (AWS_ERROR_KINDS as readonly string[]).includes(p.behaviour) && wireError('mwaa', p.behaviour as AwsErrorKind).status === 403;
  if (p.command === 'check --compare-variables' && p.remote === 'mwaa' && refusedLogin) return 0;
  return 1;
}

interface Outcome extends CliOutcome {
  world: WorldHandle;
  /** The first line of the error (stderr without warnings), or of the failed check's reason. */
  message: string;
  json: unknown;
}

function firstErrorLine(stderr: string): string {
  return stderr.split('\n').find((line) => line.trim() !== '' && !line.startsWith('warning:')) ?? '';
}

/** The first failed check or task of a JSON report (check, deploy --wait's smoke check or failed run). */
function reportedFailure(json: unknown): string | undefined {
  const doc = json as {
    servers?: Array<{ checks: Array<{ ok: boolean | null; reason: string }> }>;
    smoke?: { servers?: Array<{ checks: Array<{ ok: boolean | null; reason: string }> }> } | null;
    failures?: Array<{ taskId: string; logError?: string; logTail?: string[] }>;
  };
  const servers = doc?.servers ?? doc?.smoke?.servers ?? [];
  for (const server of servers) {
    const failed = server.checks.find((c) => c.ok === false && !c.reason.startsWith('skipped'));
    if (failed) return failed.reason;
  }
  const task = doc?.failures?.[0];
  if (task) return task.logError ?? `${task.taskId} failed`;
  return undefined;
}

const outcomes = new Map<string, Outcome>();
const failedToStart = new Map<string, Error>();
let harness: HarnessProcess;
let fileSeconds = 0;

beforeAll(async () => {
  harness = await HarnessProcess.start();
  const started = performance.now();
  await mapWithConcurrency(PAIRS, CONCURRENCY, async (pair) => {
    let world: WorldHandle;
    try {
      world = await harness.startWorld(pair.spec);
    } catch (error) {
      // This pair's test fails with it; the others still run.
      failedToStart.set(label(pair), error as Error);
      return;
    }
    try {
      const args = [...COMMAND_ARGS[pair.command], '--env', world.env, '--config', world.configPath, '--json', '--quiet'];
      const out = await runCli(args, {
        cwd: world.dir,
        env: { MWAA_GPU_CICD_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S), AWS_MAX_ATTEMPTS: String(ATTEMPTS) },
        killAfterMs: KILL_AFTER_MS,
      });
      let json: unknown;
      try {
        json = JSON.parse(out.stdout);
      } catch {
        json = undefined;
      }
      const message = firstErrorLine(out.stderr) || reportedFailure(json)?.split('\n')[0] || '';
      outcomes.set(label(pair), { ...out, world, message, json });
    } finally {
      await harness.closeWorld(world);
    }
  });
  fileSeconds = (performance.now() - started) / 1000;
  writeReport();
}, 60 * 60_000);

afterAll(async () => {
  await harness?.stop();
});

function outcomeOf(pair: Pair): Outcome {
  const notStarted = failedToStart.get(label(pair));
  if (notStarted) throw notStarted;
  const out = outcomes.get(label(pair));
  if (!out) throw new Error(`no outcome for ${label(pair)}`);
  return out;
}

describe('every command ends within its bounds, small, with its documented exit code', () => {
  it.each(PAIRS.map((p) => [label(p), p] as const))('%s', (_name, pair) => {
    const out = outcomeOf(pair);
    expect(out.killed, 'killed: it did not end by itself').toBe(false);
    expect(out.signal).toBeNull();
    expect(out.seconds).toBeLessThan(boundSeconds(pair));
    expect(out.peakRssMiB).toBeLessThan(RSS_BOUND_MIB);
    expect(out.code).toBe(expectedExit(pair));
  });
});

/**
 * The codes a message may name for an AWS error: the SDK's name for it (a query-compatible one has
 * two). S3 answers a HEAD request with the status alone (no body, so no code): there the status is
 * what the message can name.
 */
function awsCodes(remote: Remote, behaviour: string, message: string): string[] {
  if (!AWS_REMOTES.has(remote) || !(AWS_ERROR_KINDS as readonly string[]).includes(behaviour)) return [];
  const wire = wireError(remote as AwsService, behaviour as AwsErrorKind);
  if (remote === 's3' && /^S3 Head\w+ at /.test(message)) return [`failed: HTTP ${wire.status}`];
  return [wire.code, ...(wire.queryCode ? [wire.queryCode] : [])];
}

describe('the message names the remote, its endpoint and the AWS error code; no stack trace; --json gives a document', () => {
  const failing = PAIRS.filter((p) => expectedExit(p) === 1);
  it.each(failing.map((p) => [label(p), p] as const))('%s', (_name, pair) => {
    const out = outcomeOf(pair);
    expect(out.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(out.json, `stdout is not one JSON document: ${out.stdout.slice(0, 200)}`).toBeDefined();
    if (pair.remote === 'ssh') {
      // SSH failures are checks in the report: the server's entry names its host and port.
      const servers =
        (out.json as { servers?: Array<{ host: string; port: number; ok: boolean }> }).servers ??
        (out.json as { smoke?: { servers?: Array<{ host: string; port: number; ok: boolean }> } }).smoke?.servers;
      expect(servers?.[0]).toMatchObject({ ok: false });
      expect(`${servers?.[0]?.host}:${servers?.[0]?.port}`).toBe(out.world.hostPorts.ssh);
      expect(out.message).not.toBe('');
      return;
    }
    expect(out.message).toContain(REMOTE_DISPLAY[pair.remote]);
    expect(out.message).toContain(out.world.hostPorts[pair.remote]);
    const codes = awsCodes(pair.remote, pair.behaviour, out.message);
    if (codes.length > 0)
      expect(
        codes.some((code) => out.message.includes(code)),
        `one of ${codes.join(', ')}`,
      ).toBe(true);
  });
});

describe('a PRIVATE_ONLY web server: the message names the access mode and says what to do', () => {
  const privateOnly = PAIRS.filter((p) => p.behaviour.endsWith('PRIVATE_ONLY'));
  it.each(privateOnly.map((p) => [label(p), p] as const))('%s', (_name, pair) => {
    const out = outcomeOf(pair);
    const webServer = out.world.hostPorts.webServer;
    if (pair.command === 'deploy') {
      expect(out.message).toContain(`The trigger could not reach the Airflow web server at ${webServer}`);
      expect(out.stderr).toContain("The environment's WebserverAccessMode is PRIVATE_ONLY");
      expect(out.stderr).toContain('The deploy itself is done:');
      expect(out.stderr).toContain('deploy with --no-trigger');
      expect(out.json).toMatchObject({ ok: false, error: { webserverAccessMode: 'PRIVATE_ONLY', endpoint: webServer, exitCode: 1 } });
    } else {
      expect(out.message).toContain(`the Airflow web server at ${webServer} could not be reached`);
      expect(out.message).toContain('WebserverAccessMode is PRIVATE_ONLY');
      expect(out.message).toContain('run check without --compare-variables');
    }
  });
});

function writeReport(): void {
  const rows = PAIRS.map((pair) => {
    const out = outcomes.get(label(pair));
    const ended = out ? (out.killed ? 'killed' : out.signal ? out.signal : String(out.code)) : 'not run';
    const message = (out?.message ?? '').replace(/\|/g, '\\|').slice(0, 220);
    return `| ${pair.command} | ${REMOTE_DISPLAY[pair.remote]} | ${pair.behaviour} | ${out ? out.seconds.toFixed(1) : ''} | ${out?.peakRssMiB ?? ''} | ${ended} | ${message} |`;
  });
  const all = [...outcomes.values()];
  const slowest = Math.max(...all.map((o) => o.seconds));
  const biggest = Math.max(...all.map((o) => o.peakRssMiB));
  const text = [
    '# Hostile world: behaviour × command',
    '',
    `${PAIRS.length} runs of \`node dist/cli.js\`, ${CONCURRENCY} at a time, in ${fileSeconds.toFixed(0)} s ` +
      `(slowest run ${slowest.toFixed(1)} s, largest peak RSS ${biggest} MiB). Bounds: ${REQUEST_TIMEOUT_S} s per attempt, ` +
      `${ATTEMPTS} attempts, SSH connect ${SSH.connectTimeoutSeconds} s and commands ${SSH.commandTimeoutSeconds} s.`,
    '',
    '| command | remote | behaviour | seconds | peak RSS MiB | exit | first line of the message |',
    '|---|---|---|---:|---:|---|---|',
    ...rows,
    '',
  ].join('\n');
  const dir = join(repoRoot, '.test-reports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hostile-matrix.md'), text);
}
