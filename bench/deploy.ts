/**
 * Bench: what a redeploy costs, beside Debian's `aws s3 sync` (a real peer) shipping the same
 * freshly generated artifacts to the same bucket.
 *   - no-op redeploy: `deploy --no-trigger` with nothing changed
 *   - DAG-only change: `deploy --no-trigger` after a config change that touches only the DAG
 *   - aws s3 sync of freshly generated artifacts (unchanged content, new mtimes), and after the
 *     same DAG-only change
 * S3 requests are counted at moto (its request recorder; each client's own requests, told apart
 * by User-Agent from the control plane's DAG sync), writes are every S3 write moto saw, MWAA calls
 * are counted at the control plane (/_local/stats); wall times are medians of interleaved runs of
 * whole processes.
 *
 *   npx tsx bench/deploy.ts [--repeat 5] [--json]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { generateEnvironment, writeEnvironment } from '../src/generator/generate.js';
import {
  MotoRecorder,
  cliCommand,
  configVariant,
  controlPlaneStats,
  repoRoot,
  requireLocalStack,
  s3Requests,
  s3Writes,
  statsDelta,
} from '../test/integration/deploy-helpers.js';
import pkg from '../package.json' with { type: 'json' };
import { median, printTable } from './support.js';
import { runningStackOverlay } from '../local-stack/src/config-overlay.js';

const repeat = Number(process.argv[process.argv.indexOf('--repeat') + 1]) || 5;
const asJson = process.argv.includes('--json');
const stack = requireLocalStack();
const id = randomBytes(3).toString('hex');
const prefix = `bench-${id}`;
const recorder = new MotoRecorder(stack.endpoints.s3);

function variant(description: string): string {
  return configVariant({
    'mwaa.pluginsKey': `${prefix}/plugins.zip`,
    'mwaa.requirementsKey': `${prefix}/requirements.txt`,
    'mwaa.deploymentsPrefix': `${prefix}-deployments`,
    'dag.description': `deploy bench ${id}: ${description}`,
  });
}

interface Measure {
  ms: number;
  requests: number;
  writes: number;
  updates: number;
}

/** The client's own S3 requests are told apart from the control plane's DAG sync by User-Agent. */
const DEPLOY_UA = 'app/deploy-bench';

async function measure(command: string, args: string[], env: NodeJS.ProcessEnv, client: string): Promise<Measure> {
  const before = await controlPlaneStats(stack);
  await recorder.start();
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = performance.now() - started;
  const recorded = await recorder.stop();
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  const mwaa = statsDelta(before, await controlPlaneStats(stack));
  return {
    ms,
    // Every MWAA operation and web-server request the control plane counted.
    requests: s3Requests(recorded, stack.bucket, client).length + Object.values(mwaa).reduce((sum, n) => sum + n, 0) - mwaa.Other,
    writes: s3Writes(recorded, stack.bucket).length,
    updates: mwaa.UpdateEnvironment,
  };
}

const deployArgs = (config: string) => [...cliCommand(), 'deploy', '--env', 'local', '--config', config, '--yes', '--no-trigger'];

async function syncArgs(config: string, outDir: string): Promise<string[]> {
  // Freshly generated: the same bytes as before, new mtimes (what a CI checkout + generate gives).
  const resolved = await loadConfig({
    configPath: config,
    env: 'local',
    cwd: repoRoot,
    localStackOverlay: () => runningStackOverlay(process.env, repoRoot),
  });
  const dir = await writeEnvironment(outDir, await generateEnvironment(resolved, pkg.version));
  return [
    's3',
    'sync',
    dir,
    `s3://${stack.bucket}/${prefix}-sync/`,
    '--exclude',
    'manifest.json',
    '--exclude',
    'iam/*',
    '--only-show-errors',
  ];
}

const awsEnv = {
  AWS_ENDPOINT_URL: stack.endpoints.s3,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: stack.region,
};

const deployEnv = { AWS_SDK_UA_APP_ID: 'deploy-bench' };

const configA = variant('A');
const configB = variant('B');
const outDir = mkdtempSync(join(tmpdir(), 'deploy-bench-'));

// Set-up (not timed): the environment runs config A, and the sync target holds A.
await measure(process.execPath, deployArgs(configA), deployEnv, DEPLOY_UA);
await measure('aws', await syncArgs(configA, outDir), awsEnv, 'aws-cli');

const samples: Record<string, Measure[]> = { noop: [], dagOnly: [], syncNoop: [], syncDagOnly: [] };
let current = configA;
for (let round = 0; round < repeat; round += 1) {
  samples.noop!.push(await measure(process.execPath, deployArgs(current), deployEnv, DEPLOY_UA));
  samples.syncNoop!.push(await measure('aws', await syncArgs(current, outDir), awsEnv, 'aws-cli'));
  const next = current === configA ? configB : configA;
  samples.dagOnly!.push(await measure(process.execPath, deployArgs(next), deployEnv, DEPLOY_UA));
  samples.syncDagOnly!.push(await measure('aws', await syncArgs(next, outDir), awsEnv, 'aws-cli'));
  current = next;
}

const summary = Object.fromEntries(
  Object.entries(samples).map(([name, list]) => [
    name,
    {
      ms: median(list.map((m) => m.ms)),
      requests: median(list.map((m) => m.requests)),
      writes: median(list.map((m) => m.writes)),
      updates: median(list.map((m) => m.updates)),
    },
  ]),
);
if (asJson) {
  process.stdout.write(`${JSON.stringify({ repeat, summary }, null, 2)}\n`);
} else {
  const row = (label: string, m: Measure) => [label, m.ms, m.requests, m.writes, m.updates];
  printTable(
    `deploy vs aws s3 sync (median of ${repeat}, whole processes; requests/writes counted at moto and the control plane)`,
    ['case', 'wall ms', 'requests', 'S3 writes', 'UpdateEnvironment'],
    [
      row('deploy: no-op redeploy', summary.noop as Measure),
      row('aws s3 sync: fresh artifacts, no change', summary.syncNoop as Measure),
      row('deploy: DAG-only change', summary.dagOnly as Measure),
      row('aws s3 sync: DAG-only change', summary.syncDagOnly as Measure),
    ],
  );
  process.stdout.write(
    '\n  deploy writes include the lock (PUT+DELETE) and the deploy record when something changed.\n' +
      '  aws s3 sync never pins plugins/requirements versions (no UpdateEnvironment): MWAA would not load them.\n',
  );
}
