/**
 * `local up`: provisions and starts the local MWAA-compatible stack, idempotently. What is already
 * installed is reused (venv by lock hash, migrated DB, keys, git repo); what already runs keeps
 * running with the same PIDs and ports; only missing pieces are started.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { moveTakenPorts, prepareAirflowHome, stackAirflowEnv } from './airflow-home.js';
import { apiServerHealthy, staleJobs } from './airflow-health.js';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ensureBucket, ensureSecret, motoAnswers, s3Client, secretsClient } from './aws.js';
import { controlPlaneHealthy, mwaaAnswers, readControlPlaneInfo, startControlPlane } from './control-plane-client.js';
import { processSpecs } from './control-plane/processes.js';
import { ensureBareRepo } from './git-fixture.js';
import {
  AIRFLOW_VERSIONS,
  BUCKET,
  awsCliLockPath,
  installerLockPath,
  DAG_SYNC_INTERVAL_SECONDS,
  ENVIRONMENT_NAME,
  FALLBACK_PYTHON,
  GIT_BRANCH,
  REGION,
  SECRET_NAME,
  controlPlaneScript,
  layoutFor,
  lockPath,
  mwaaPython,
  repoRoot,
  venvsDirFrom,
  type StackLayout,
} from './layout.js';
import { recordedProcesses } from './down.js';
import { recordOf, recordedAlive, recordedRef } from './liveness.js';
import { step, type ProgressListener } from './progress.js';
import { spawnDetached, stopPid, waitFor } from './processes.js';
import { freePort, portIsFree, portOf } from './net.js';
import { ensureKeyPair, sshBannerSeen, sshFiles, SSHD_BINARY, stackSshdConfig, testSshdConfig, writeSshdConfig } from './sshd.js';
import { installStandIn, SERVER_ADDRESSES, standInFiles } from './gpu-stand-in.js';
import { clearPending, readPending, recordPending } from './pending.js';
import { stackProcessEnv } from './strays.js';
import { readStateIfPresent, statePath, writeState, type AirflowLine, type LocalStackState, type StackProcess } from './state.js';
import { ensureInstaller, ensureVenv, findPython } from './venv.js';
import { ensureStackTls } from './tls.js';

export interface UpOptions {
  root: string;
  line: AirflowLine;
  progress: ProgressListener;
  /** Monotonic-enough clock in ms for step timings. */
  now: () => number;
  env?: NodeJS.ProcessEnv;
  /** Repository holding the locks and dist/; found from this module when omitted. */
  repo?: string;
  /** How long to wait for Airflow to heartbeat after the control plane starts it. */
  airflowTimeoutMs?: number;
}

export interface UpResult {
  state: LocalStackState;
  /** Names of processes that were already running and kept. */
  reused: string[];
  started: string[];
}

export async function up(options: UpOptions): Promise<UpResult> {
  const { root, line, progress, now } = options;
  const env = options.env ?? process.env;
  const version = AIRFLOW_VERSIONS[line];
  const repo = options.repo ?? repoRoot();
  const layout = layoutFor(root, version, venvsDirFrom(env, root));
  const previous = readStateIfPresent(root);

  if (previous && previous.airflowLine !== line) {
    const running = recordedProcesses(root).filter((p) => recordedAlive(p));
    if (running.length > 0) {
      throw new UserError(
        `The local stack at ${root} runs Airflow ${previous.airflowVersion} (line ${previous.airflowLine}). ` +
          `Stop it first: npm run local -- down, then: npm run local -- up --airflow ${line}`,
      );
    }
  }
  // Leftovers of an `up` that failed half-way: not in state.json, so nothing would reuse them.
  const recorded = new Set((previous?.processes ?? []).map((p) => p.pid));
  for (const orphan of readPending(root)) {
    const ref = recorded.has(orphan.pid) ? undefined : recordedRef(orphan);
    if (ref) await stopPid(ref, 5_000);
  }
  clearPending(root);
  const sameLine = previous && previous.airflowLine === line ? previous : undefined;
  preflight(repo);
  mkdirSync(layout.logsDir, { recursive: true });
  const reused: string[] = [];
  const started: string[] = [];

  const { python, lockFile, venv, home } = await provisionLine({ layout, line, repo, env, progress, now });

  const tls = await step(progress, now, 'tls', async () => {
    const made = await ensureStackTls({ root, python: join(layout.venvBin, 'python'), now: new Date() });
    const what = { none: 'present', server: 'new server certificate', all: 'new CA and server certificate' }[made.renewed];
    return { cached: made.renewed === 'none', detail: `${what} (CA ${made.files.caCert})`, ...made };
  });

  const ssh = await step(progress, now, 'sshd', async () => {
    const files = sshFiles(layout.sshDir);
    try {
      // sshd's privilege-separation directory; only root can create it, and only root needs it.
      mkdirSync('/run/sshd', { recursive: true });
    } catch {
      // Not root: sshd runs unprivileged for the same user and does not need it.
    }
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    const hostPublicKey = await ensureKeyPair(files.hostKey, 'local-stack-host');
    const clientPublicKey = await ensureKeyPair(files.clientKey, 'local-stack-client');
    const user = userInfo().username;
    const old = sameLine?.processes.find((p) => p.name === 'sshd');
    if (old && sameLine && recordedAlive(old) && (await sshBannerSeen(sameLine.ssh.port))) {
      // A stack started by an older checkout may serve fewer addresses or lack the stand-in's PATH:
      // rewrite its config and let sshd re-read it (SIGHUP: sshd re-executes itself, same PID).
      const wanted = stackSshdConfig(files, sameLine.ssh.port, user);
      installStandIn(standInFiles(files.dir));
      if (!existsSync(files.config) || readFileSync(files.config, 'utf8') !== wanted) {
        writeFileSync(files.config, wanted, { mode: 0o644 });
        await testSshdConfig(files);
        process.kill(old.pid, 'SIGHUP');
        const last = SERVER_ADDRESSES[SERVER_ADDRESSES.length - 1] as string;
        await waitFor('sshd', () => sshBannerSeen(sameLine.ssh.port, 2_000, last), 15_000, {
          alive: () => recordedAlive(old),
          hint: `See ${files.log}`,
        });
      }
      reused.push('sshd');
      return {
        cached: true,
        detail: `running on 127.0.0.1:${sameLine.ssh.port}`,
        port: sameLine.ssh.port,
        record: old,
        hostPublicKey,
        files,
        user,
      };
    }
    const port = await portOrFree(sameLine?.ssh.port);
    writeSshdConfig(files, port, user, clientPublicKey);
    await testSshdConfig(files);
    const pid = spawnDetached({
      command: SSHD_BINARY,
      args: ['-D', '-f', files.config, '-E', files.log],
      log: join(layout.logsDir, 'sshd.out'),
      env: stackProcessEnv(root),
    });
    const record = recordOf('sshd', pid, files.log);
    recordPending(root, record);
    await waitFor('sshd', () => sshBannerSeen(port), 15_000, {
      alive: () => recordedAlive(record),
      hint: `See ${files.log}`,
    });
    started.push('sshd');
    return { cached: false, detail: `started on 127.0.0.1:${port}`, port, record, hostPublicKey, files, user };
  });

  await step(progress, now, 'git repo', async () => {
    const result = await ensureBareRepo(layout.bareRepo, GIT_BRANCH);
    mkdirSync(layout.workspace, { recursive: true });
    return { cached: !result.created, detail: result.created ? `created ${layout.bareRepo} (${GIT_BRANCH})` : 'present' };
  });

  const moto = await step(progress, now, 'moto', async () => {
    const old = sameLine?.processes.find((p) => p.name === 'moto');
    if (old && sameLine && recordedAlive(old) && (await motoAnswers(sameLine.endpoints.s3, REGION).catch(() => false))) {
      reused.push('moto');
      return { cached: true, detail: `running at ${sameLine.endpoints.s3}`, url: sameLine.endpoints.s3, record: old };
    }
    const port = await portOrFree(sameLine ? portOf(sameLine.endpoints.s3) : undefined);
    const url = `http://127.0.0.1:${port}`;
    const pid = spawnDetached({
      command: join(layout.venvBin, 'moto_server'),
      args: ['-H', '127.0.0.1', '-p', String(port)],
      log: layout.motoLog,
      // moto's request recorder (the tests count S3 writes with it) writes into its working
      // directory unless told otherwise: keep it inside the stack.
      env: stackProcessEnv(root, { ...process.env, MOTO_RECORDER_FILEPATH: join(root, 'moto_recording') }),
    });
    const record = recordOf('moto', pid, layout.motoLog);
    recordPending(root, record);
    await waitFor('moto_server', () => motoAnswers(url, REGION), 30_000, {
      alive: () => recordedAlive(record),
      hint: `See ${layout.motoLog}`,
    });
    started.push('moto');
    return { cached: false, detail: `started at ${url}`, url, record };
  });

  const aws = await step(progress, now, 'bucket + secret', async () => {
    const s3 = s3Client(moto.url, REGION);
    const sm = secretsClient(moto.url, REGION);
    try {
      const bucket = await ensureBucket(s3, BUCKET);
      const secret = await ensureSecret(sm, SECRET_NAME, readFileSync(ssh.files.clientKey, 'utf8'));
      const created = bucket.created || secret.created;
      return { cached: !created, detail: `s3://${BUCKET} (versioning Enabled), secret ${SECRET_NAME}`, arn: secret.arn };
    } finally {
      s3.destroy();
      sm.destroy();
    }
  });

  // The state must exist before the control plane starts: it reads its settings from it.
  const oldCp = sameLine?.processes.find((p) => p.name === 'control-plane');
  const oldCpRef = oldCp ? recordedRef(oldCp) : undefined;
  const cpAlive = oldCpRef !== undefined;
  // A control plane that outlived a restarted moto would talk to a dead endpoint: restart it too;
  // one that serves plain HTTP or an older certificate must restart to serve the current one.
  const cpReusable =
    cpAlive && reused.includes('moto') && sameLine !== undefined && tls.renewed === 'none' && sameLine.endpoints.mwaa.startsWith('https:');
  // Stop a control plane that cannot be kept before picking ports, so its port can be taken again.
  if (oldCpRef && !cpReusable) {
    progress({ kind: 'note', message: 'stopping the control plane (moto was restarted, or its certificate or scheme changed)' });
    await stopPid(oldCpRef, 40_000);
  }
  if (!cpReusable) {
    // Airflow processes of a control plane that died without stopping them (e.g. SIGKILL) would
    // hold the api-server port and the SQLite DB next to the ones the new control plane starts.
    for (const orphan of recordedProcesses(root).filter((p) => p.name.startsWith('airflow-'))) {
      const ref = recordedRef(orphan);
      if (ref) await stopPid(ref, 20_000);
    }
  }
  // Airflow is about to start: its kept ports must still be free (a stack that was down may find
  // one taken by another stack's Airflow, whose health check would answer for this one's).
  let airflowInfo = home.info;
  if (!cpReusable) {
    const ports = await moveTakenPorts(layout.airflowHome, line);
    if (ports.moved.length > 0)
      progress({ kind: 'note', message: `Airflow ports taken by another program, moved: ${ports.moved.join(', ')}` });
    airflowInfo = ports.info;
  }
  const mwaaPort = cpReusable ? portOf(sameLine!.endpoints.mwaa) : await portOrFree(sameLine ? portOf(sameLine.endpoints.mwaa) : undefined);
  const mwaaEndpoint = `https://127.0.0.1:${mwaaPort}`;
  const baseProcesses: StackProcess[] = [moto.record, ssh.record];
  const state: LocalStackState = {
    formatVersion: 1,
    root,
    airflowLine: line,
    airflowVersion: version,
    pythonVersion: python.minor,
    ...(python.fallbackNote ? { pythonNote: python.fallbackNote } : {}),
    venvBin: layout.venvBin,
    awsCli: join(layout.awsCliVenvDir, 'bin', 'aws'),
    airflowHome: layout.airflowHome,
    environmentName: ENVIRONMENT_NAME,
    region: REGION,
    bucket: BUCKET,
    secretArn: aws.arn,
    endpoints: { s3: moto.url, secretsManager: moto.url, mwaa: mwaaEndpoint },
    tls: { caCert: tls.files.caCert, serverCert: tls.files.serverCert, serverKey: tls.files.serverKey },
    ssh: {
      host: '127.0.0.1',
      port: ssh.port,
      user: ssh.user,
      hostPublicKey: ssh.hostPublicKey,
      clientKeyPath: ssh.files.clientKey,
      sshdLog: ssh.files.log,
      sshdConfig: ssh.files.config,
    },
    git: { remoteUrl: layout.bareRepo, branch: GIT_BRANCH },
    workspace: layout.workspace,
    processes: cpReusable && oldCp ? [...baseProcesses, oldCp] : baseProcesses,
    dagSyncIntervalSeconds: DAG_SYNC_INTERVAL_SECONDS,
    startedAt: sameLine?.startedAt ?? new Date().toISOString(),
    lockFile,
    lockSha256: venv.hash,
    airflow: {
      ...airflowInfo,
      env: stackAirflowEnv({
        airflowHome: layout.airflowHome,
        motoUrl: moto.url,
        region: REGION,
        mwaaEndpoint,
        caBundle: tls.files.caCert,
      }),
    },
  };
  writeState(root, state);

  const cp = await step(progress, now, 'control plane', async () => {
    if (cpReusable && oldCp) {
      reused.push('control-plane');
      return { cached: true, detail: `running at ${state.endpoints.mwaa}`, record: oldCp, startedAt: undefined as Date | undefined };
    }
    const startedAt = new Date(Date.now() - 1_000);
    const pid = startControlPlane({
      script: controlPlaneScript(repo),
      statePath: statePath(root),
      log: layout.controlPlaneLog,
      syncIntervalSeconds: DAG_SYNC_INTERVAL_SECONDS,
      env: stackProcessEnv(root),
    });
    const record = recordOf('control-plane', pid, layout.controlPlaneLog);
    state.processes = [...baseProcesses, record];
    writeState(root, state);
    await waitFor('control plane', () => controlPlaneHealthy(state.endpoints.mwaa, state.tls?.caCert), 120_000, {
      alive: () => recordedAlive(record),
      hint: `See ${layout.controlPlaneLog}`,
    });
    started.push('control-plane');
    return { cached: false, detail: `started at ${state.endpoints.mwaa}`, record, startedAt };
  });

  await step(progress, now, `airflow ${version}`, async () => {
    const since = cp.startedAt ?? new Date(Date.now() - 60_000);
    await waitForAirflow(layout, line, since, airflowInfo.apiPort, options.airflowTimeoutMs ?? 240_000);
    // The control plane records the Airflow PIDs; `up` is done when that record is complete, so
    // a `status` or `down` right after it sees every process.
    await waitFor('the control plane to report its Airflow processes', () => controlPlaneReported(layout, cp.record, line), 60_000, {
      intervalMs: 250,
      alive: () => recordedAlive(cp.record),
      hint: `See ${layout.controlPlaneLog}`,
    });
    return {
      cached: cp.startedAt === undefined,
      detail: line === '2' ? 'web server healthy, scheduler heartbeating' : 'api-server, scheduler, dag-processor healthy',
    };
  });

  await step(progress, now, 'endpoints', async () => {
    await checkEndpoints(state);
    return { detail: 's3, secretsmanager, mwaa, ssh answer' };
  });

  // Airflow's processes are not recorded here: the control plane restarts them on updates and
  // keeps their live PIDs in control-plane.json (`status` and `down` read both files).
  clearPending(root);
  return { state, reused, started };
}

export interface ProvisionOptions {
  root: string;
  line: AirflowLine;
  progress: ProgressListener;
  now: () => number;
  env?: NodeJS.ProcessEnv;
  repo?: string;
}

/**
 * `local provision`: what `up` installs before it starts anything, the line's venv and its
 * AIRFLOW_HOME with a migrated DB. It starts nothing and writes no state, so it can run while a
 * stack of the other line runs in the same root (npm test prepares line 3 while line 2 is tested).
 */
export async function provision(options: ProvisionOptions): Promise<void> {
  const env = options.env ?? process.env;
  const repo = options.repo ?? repoRoot();
  const layout = layoutFor(options.root, AIRFLOW_VERSIONS[options.line], venvsDirFrom(env, options.root));
  mkdirSync(layout.logsDir, { recursive: true });
  await provisionLine({ layout, line: options.line, repo, env, progress: options.progress, now: options.now });
}

async function provisionLine(options: {
  layout: StackLayout;
  line: AirflowLine;
  repo: string;
  env: NodeJS.ProcessEnv;
  progress: ProgressListener;
  now: () => number;
}) {
  const { layout, line, repo, env, progress, now } = options;
  const version = AIRFLOW_VERSIONS[line];
  const python = await findPython(env, mwaaPython(version), FALLBACK_PYTHON);
  if (python.fallbackNote) progress({ kind: 'note', message: python.fallbackNote });
  const lockFile = lockPath(repo, version, python.minor);
  if (!existsSync(lockFile)) {
    throw new UserError(
      `No lock for Airflow ${version} on Python ${python.minor} (${lockFile}). Make one: local-stack/scripts/provision-lock.sh ${version}`,
    );
  }
  // Shared by the lines like the tools venv: one provisioning at a time per venvs directory.
  const installer = await step(progress, now, 'venv installer (uv)', async () => {
    const result = await ensureInstaller({
      python,
      venvDir: layout.installerVenvDir,
      lockFile: installerLockPath(repo),
      log: join(layout.logsDir, 'pip-installer.log'),
    });
    return { ...result, detail: result.cached ? 'up to date (lock unchanged)' : `installed from ${installerLockPath(repo)}` };
  });
  const venv = await step(progress, now, `venv airflow-${version}`, async () => {
    const result = await ensureVenv({
      python,
      venvDir: layout.venvDir,
      lockFile,
      log: join(layout.logsDir, `pip-${version}.log`),
      installer: installer.uv,
    });
    return { ...result, detail: result.cached ? 'up to date (lock unchanged)' : `installed from ${lockFile}` };
  });
  await step(progress, now, 'venv aws-cli', async () => {
    const awsLock = awsCliLockPath(repo, python.minor);
    const result = await ensureVenv({
      python,
      venvDir: layout.awsCliVenvDir,
      lockFile: awsLock,
      log: join(layout.logsDir, 'pip-aws-cli.log'),
      program: 'aws',
      installer: installer.uv,
    });
    return { ...result, detail: result.cached ? 'up to date (lock unchanged)' : `installed from ${awsLock}` };
  });

  const home = await step(progress, now, 'airflow home', async () => {
    const result = await prepareAirflowHome({
      airflowHome: layout.airflowHome,
      line,
      venvBin: layout.venvBin,
      lockHash: venv.hash,
      log: join(layout.logsDir, `airflow-db-migrate-${version}.log`),
    });
    const detail = !result.migrated
      ? 'db already migrated'
      : result.fromTemplate
        ? "airflow.cfg written, db copied from the venv's migrated one"
        : 'airflow.cfg written, db migrated';
    return { ...result, cached: !result.migrated, detail };
  });
  return { python, lockFile, venv, home };
}

/** control-plane.json is the running control plane's, says start-up is over, and names every Airflow process alive. */
export function controlPlaneReported(layout: StackLayout, controlPlane: StackProcess, line: AirflowLine): boolean {
  const info = readControlPlaneInfo(layout.controlPlaneInfo);
  if (!info?.ready || info.pid !== controlPlane.pid) return false;
  return processSpecs(line).every((spec) => info.processes.some((p) => p.name === spec.name && recordedAlive(p)));
}

async function waitForAirflow(
  layout: StackLayout,
  line: AirflowLine,
  since: Date,
  apiPort: number | undefined,
  timeoutMs: number,
): Promise<void> {
  let missing: string[] = [];
  await waitFor(
    `Airflow ${line === '2' ? 'scheduler' : 'processes'}`,
    async () => {
      if (apiPort !== undefined && !(await apiServerHealthy(apiPort, line).catch(() => false))) {
        missing = [line === '3' ? 'api-server' : 'web server'];
        return false;
      }
      missing = await staleJobs({ venvBin: layout.venvBin, airflowHome: layout.airflowHome, line, since });
      return missing.length === 0;
    },
    timeoutMs,
    { intervalMs: 1_000, hint: `Waiting for: ${missing.join(', ') || 'first check'}. See ${layout.logsDir}/airflow-*.log` },
  );
}

/** Every endpoint the project uses answers. */
export async function checkEndpoints(state: LocalStackState): Promise<void> {
  if (!(await motoAnswers(state.endpoints.s3, state.region))) throw new Error('moto S3 does not answer');
  const sm = secretsClient(state.endpoints.secretsManager, state.region);
  try {
    await sm.send(new GetSecretValueCommand({ SecretId: state.secretArn }));
  } finally {
    sm.destroy();
  }
  if (!(await mwaaAnswers(state.endpoints.mwaa, state.environmentName, state.tls?.caCert)))
    throw new Error('the MWAA control plane does not answer GetEnvironment');
  if (!(await sshBannerSeen(state.ssh.port))) throw new Error('sshd does not answer');
}

function preflight(repo: string): void {
  const missing: string[] = [];
  if (!existsSync(SSHD_BINARY)) missing.push(`${SSHD_BINARY} (apt-get install openssh-server)`);
  for (const tool of ['ssh-keygen', 'git']) {
    if (!onPath(tool)) missing.push(`${tool} (apt-get install ${tool === 'git' ? 'git' : 'openssh-client'})`);
  }
  if (!existsSync(controlPlaneScript(repo))) missing.push(`${controlPlaneScript(repo)} (run: npm run build)`);
  if (missing.length > 0) throw new UserError(`The local stack needs:\n  ${missing.join('\n  ')}`);
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, tool)));
}

/** The previous port when it is still free (stable URLs across restarts), else a fresh one. */
async function portOrFree(previous: number | undefined): Promise<number> {
  if (previous && (await portIsFree(previous))) return previous;
  return freePort();
}
