/**
 * Wires the control plane together for one local stack: reads state.json, serves the MWAA API on
 * loopback, mirrors the DAG folder from S3, owns the Airflow processes, and records its port and
 * their PIDs in `<root>/control-plane.json`.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { writeJsonAtomic, type LocalStackState } from '../state.js';
import { identityOf } from '../liveness.js';
import { processRef } from '../processes.js';
import { loadOrCreateSettings, localConfigurationOptions, WEB_USER } from '../airflow-home.js';
import { MWAA_AIRFLOW_VERSIONS, type AirflowVersion } from '../../../src/mwaa/versions.js';
import { airflowLogin } from './airflow-login.js';
import { CliForkServer } from './cli-fork-server.js';
import { CliRunner } from './cli-runner.js';
import { EnvironmentController, type ControllerEvent } from './controller.js';
import { DagSync, type SyncResult } from './dag-sync.js';
import { bucketArn, environmentArn } from '../../../src/mwaa/arns.js';
import { LOCAL_ACCOUNT_ID } from '../layout.js';
import type { EnvironmentRecord } from './environment.js';
import { PluginsInstaller } from './plugins.js';
import { PrivateWebServer } from './private-web-server.js';
import { AirflowSupervisor, airflowEnv, processSpecs, type RunningProcess, type SupervisorEvent } from './processes.js';
import { checkRequirements, writeConstraintsFromLock, type ConstraintTarget } from './requirements.js';
import { apiServerBaseUrl, waitForAirflow } from './readiness.js';
import { createS3Store } from './s3.js';
import { createControlPlaneServer, type Behaviour, type Operation } from './server.js';
import { TagStore } from './tags.js';
import { TokenStore } from './tokens.js';
import { portOf } from '../net.js';

export interface ControlPlaneOptions {
  statePath: string;
  /** Overrides the port of state.endpoints.mwaa; 0 picks a free one. */
  port?: number;
  syncIntervalSeconds?: number;
  tokenTtlSeconds?: number;
  /** How long a failed update stays ROLLING_BACK (default 3 s; tests change it at /_local/behaviour). */
  rollingBackMs?: number;
  log: (event: Record<string, unknown>) => void;
}

export interface ControlPlaneHandle {
  port: number;
  stop: () => Promise<void>;
}

export const CONTROL_PLANE_FILE = 'control-plane.json';

type StackState = LocalStackState & { dagSyncIntervalSeconds?: number };

export function readStackState(statePath: string): StackState {
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as StackState;
  const missing = ['root', 'airflowLine', 'airflowVersion', 'venvBin', 'airflowHome', 'environmentName', 'region', 'bucket'].filter(
    (key) => typeof (state as unknown as Record<string, unknown>)[key] !== 'string',
  );
  if (typeof state.endpoints?.s3 !== 'string') missing.push('endpoints.s3');
  if (missing.length > 0) throw new Error(`${statePath} lacks ${missing.join(', ')}`);
  return state;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneHandle> {
  const state = readStackState(options.statePath);
  const log = options.log;
  const now = (): number => Date.now();
  const cpDir = join(state.root, 'control-plane');
  const infoPath = join(state.root, CONTROL_PLANE_FILE);
  mkdirSync(cpDir, { recursive: true });
  const dagsFolder = state.airflow?.dagsFolder ?? join(state.airflowHome, 'dags');
  mkdirSync(dagsFolder, { recursive: true });

  const port = options.port ?? portOf(state.endpoints.mwaa);
  const syncSeconds = options.syncIntervalSeconds ?? state.dagSyncIntervalSeconds ?? 30;
  const python = join(state.venvBin, 'python');
  const airflowBin = join(state.venvBin, 'airflow');
  let hostname = `127.0.0.1:${port}`;

  const fresh: EnvironmentRecord = {
    name: state.environmentName,
    arn: environmentArn(state.region, LOCAL_ACCOUNT_ID, state.environmentName),
    status: 'CREATING',
    airflowVersion: state.airflowVersion,
    sourceBucketArn: bucketArn(state.region, state.bucket),
    dagS3Path: 'dags',
    airflowConfigurationOptions: localConfigurationOptions(state.airflowLine),
    webserverUrl: hostname,
    createdAtMs: now(),
    inertSettings: {},
  };
  const persistPath = join(cpDir, 'environment.json');
  const record = EnvironmentController.loadRecord(persistPath, fresh, now());
  const env = (): NodeJS.ProcessEnv =>
    airflowEnv({
      line: state.airflowLine,
      baseEnv: process.env,
      venvBin: state.venvBin,
      airflowHome: state.airflowHome,
      s3Endpoint: state.endpoints.s3,
      region: state.region,
      stackEnv: state.airflow?.env,
      configurationOptions: controller.snapshot().airflowConfigurationOptions,
    });

  const airflowReady = (): Promise<void> => waitForAirflow({ line: state.airflowLine, env, airflowHome: state.airflowHome });
  const behaviour: Behaviour = {
    webLoginDenied: false,
    rollingBackMs: options.rollingBackMs ?? 3000,
    cliTokenTtlMs: (options.tokenTtlSeconds ?? 60) * 1000,
    dagSyncOrder: 'listing',
    dagSyncHoldMs: 20_000,
  };
  // The environment's Python is the one MWAA pairs with its Airflow version (what requirements.txt
  // must name), whichever interpreter the stack could run it on.
  const constraints: ConstraintTarget = {
    environmentName: state.environmentName,
    airflowVersion: state.airflowVersion,
    pythonVersion: MWAA_AIRFLOW_VERSIONS[state.airflowVersion as AirflowVersion] ?? state.pythonVersion,
    constraintsFile: join(cpDir, 'constraints', `constraints-${state.airflowVersion}`, 'constraints.txt'),
  };
  if (!state.lockFile) throw new Error(`${options.statePath} names no lockFile to derive the constraint file from`);
  writeConstraintsFromLock(state.lockFile, constraints.constraintsFile);
  const airflowSettings = await loadOrCreateSettings(state.airflowHome);
  const restBaseUrl = (): string => apiServerBaseUrl(env(), state.airflowHome, state.airflowLine);
  const store = createS3Store({ endpoint: state.endpoints.s3, region: state.region, bucket: state.bucket });
  let processes: RunningProcess[] = [];
  // False until Airflow answered (or start-up gave up on it); the file exists from the moment
  // the Airflow processes are spawned, so `status` and `down` always see every PID it runs.
  let ready = false;
  const self = processRef(process.pid);
  const writeInfo = (): void =>
    writeJsonAtomic(infoPath, {
      formatVersion: 1,
      pid: process.pid,
      ...(self ? identityOf(self) : {}),
      port: actualPort,
      url: `${scheme}://${hostname}`,
      ready,
      startedAt: new Date(startedAtMs).toISOString(),
      processes,
    });
  const supervisor = new AirflowSupervisor({
    airflowBin,
    specs: processSpecs(state.airflowLine),
    logsDir: join(state.root, 'logs'),
    env,
    onEvent: (event: SupervisorEvent) => log({ ...event }),
    onChange: (list) => {
      processes = list;
      writeInfo();
    },
  });
  const controller = new EnvironmentController(record, {
    store,
    plugins: new PluginsInstaller({ airflowHome: state.airflowHome, python, env }),
    checkRequirements: (body) => checkRequirements(body, constraints, python, env()),
    rollingBackMs: () => behaviour.rollingBackMs,
    restartAirflow: async (changed) => {
      // Plugins and configuration are read at import time: the CLI's Airflow must restart too.
      void forkServer.restart();
      await supervisor.restart((spec) => changed.configuration || spec.loadsPlugins);
      await airflowReady();
    },
    now,
    persistPath,
    onEvent: (event: ControllerEvent) => log({ ...event }),
  });
  const tokens = new TokenStore(() => behaviour.cliTokenTtlMs, now);
  const forkServer = new CliForkServer({
    python,
    env,
    logPath: join(state.root, 'logs', 'cli-fork-server.log'),
    tmpRoot: cpDir,
    onEvent: log,
  });
  const cli = new CliRunner(airflowBin, env, state.airflowHome, 300_000, 2, forkServer);

  const sync = new DagSync(
    store,
    dagsFolder,
    () => controller.snapshot().dagS3Path,
    () => (behaviour.dagSyncOrder === 'listing' ? { order: 'listing' } : { order: 'dag-files-first', holdMs: behaviour.dagSyncHoldMs }),
    now,
  );
  const syncStats = {
    cycles: 0,
    intervalSeconds: syncSeconds,
    lastSyncAt: null as string | null,
    lastDurationMs: 0,
    lastError: null as string | null,
    filesWritten: 0,
    filesDeleted: 0,
  };
  const runSync = async (): Promise<void> => {
    const started = now();
    try {
      const result: SyncResult = await sync.syncOnce();
      syncStats.filesWritten += result.added.length + result.updated.length;
      syncStats.filesDeleted += result.deleted.length;
      syncStats.lastError = null;
      if (result.added.length + result.updated.length + result.deleted.length > 0) log({ type: 'dag-sync', ...result });
    } catch (error) {
      syncStats.lastError = error instanceof Error ? error.message : String(error);
      log({ type: 'dag-sync-failed', error: syncStats.lastError });
    }
    syncStats.cycles += 1;
    syncStats.lastSyncAt = new Date(now()).toISOString();
    syncStats.lastDurationMs = now() - started;
  };

  // Where the web server hostname leads while the environment is PRIVATE_ONLY.
  const privateWeb = new PrivateWebServer();
  await privateWeb.start();
  const { server: handler } = createControlPlaneServer({
    line: state.airflowLine,
    controller,
    tokens,
    webTokens: new TokenStore((options.tokenTtlSeconds ?? 60) * 1000, now),
    runCli: (argv) => cli.run(argv),
    airflowLogin: airflowLogin({
      line: state.airflowLine,
      baseUrl: restBaseUrl,
      username: WEB_USER.username,
      password: airflowSettings.webPassword,
    }),
    airflowBaseUrl: restBaseUrl,
    tags: new TagStore(join(cpDir, 'tags.json')),
    behaviour,
    airflowIdentity: WEB_USER.username,
    webServerHostname: () => privateWeb.hostnameFor(controller.snapshot(), hostname),
    extraStats: () => ({
      dagSync: syncStats,
      environment: { status: controller.snapshot().status },
      processes,
      privateWebServer: privateWeb.stats(),
    }),
    onEvent: (event: { type: string; operation: Operation; status: number; ms: number; detail?: string }) => log({ ...event }),
  });
  // MWAA answers over HTTPS only: with the stack's certificate (state.tls, made by `up`) the same
  // routes are served over TLS; the HTTP server of server.ts then only dispatches its requests.
  const tls = state.tls;
  const scheme = tls ? 'https' : 'http';
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.serverCert), key: readFileSync(tls.serverKey) }, (req, res) =>
        handler.emit('request', req, res),
      )
    : handler;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const actualPort = (server.address() as AddressInfo).port;
  hostname = `127.0.0.1:${actualPort}`;
  const startedAtMs = now();
  log({ type: 'listening', port: actualPort });

  await runSync();
  let syncTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const loop = (): void => {
    syncTimer = setTimeout(() => {
      void runSync().finally(() => {
        if (!stopped) loop();
      });
    }, syncSeconds * 1000);
  };
  loop();

  supervisor.start();
  processes = supervisor.processes();
  // In the background: until it is ready, CLI commands spawn `airflow`.
  void forkServer.start();
  const restored = controller.snapshot();
  try {
    await airflowReady();
    controller.setStatus(restored.lastUpdate?.status === 'FAILED' ? 'UPDATE_FAILED' : 'AVAILABLE');
  } catch (error) {
    log({ type: 'airflow-not-ready', error: error instanceof Error ? error.message : String(error) });
    controller.setStatus('UNAVAILABLE');
  }
  ready = true;
  writeInfo();
  log({ type: 'ready', port: actualPort, processes });

  return {
    port: actualPort,
    stop: async () => {
      stopped = true;
      if (syncTimer) clearTimeout(syncTimer);
      server.close();
      server.closeAllConnections();
      await privateWeb.stop();
      await controller.idle();
      await forkServer.stop();
      await supervisor.stop();
      rmSync(infoPath, { force: true });
      log({ type: 'stopped' });
    },
  };
}
