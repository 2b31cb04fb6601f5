/**
 * The programmatic API: what the CLI does, as typed functions that return results and throw
 * UserError/ConfigError (each with an exit code and a message that says what to do); nothing here
 * prints or exits. `generate` loads neither the AWS SDK nor ssh2; `plan`, `deploy`, `check` and
 * the day-two reads (`status`, `history`, `logs`) load them when called.
 *
 *   import { generate, plan } from 'mwaa-gpu-cicd';
 *   const [dev] = await generate({ env: 'dev' });
 *   const { changes, refused } = await plan({ env: 'prod', diff: true });
 */
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { readConfigFile, resolveEveryEnvironment, resolveValidated, type LoadOptions } from './config/load.js';
import type { ResolvedConfig } from './config/resolved.js';
import type { ArtifactDiff } from './deployer/diff.js';
import type { Plan } from './deployer/plan.js';
import type { WorkflowEvent, WorkflowResult } from './workflows/deploy.js';
import { ExitCode, UserError } from './errors.js';
import { DEFAULT_OUT_DIR, generateEnvironment, writeEnvironment, type GeneratedEnvironment } from './generator/generate.js';
import type { Manifest } from './generator/manifest.js';
import type { AwsClients } from './mwaa/clients.js';
import type { CheckEvent, CheckReport, RuntimeCheckOptions } from './runtime-check/index.js';
import type { StatusReport } from './deployer/status.js';
import type { History } from './deployer/history.js';
import type { RunLogs } from './deployer/run-logs.js';
import pkg from '../package.json' with { type: 'json' };

export { ConfigError, ExitCode, UserError, type ConfigIssue } from './errors.js';
export type { ResolvedConfig } from './config/resolved.js';
export type { Manifest, ManifestEntry } from './generator/manifest.js';
export type { Action, Plan, Refusal } from './deployer/plan.js';
export type { ArtifactDiff, MemberChange } from './deployer/diff.js';
export type { DeployResult } from './deployer/deploy.js';
export type { WorkflowEvent, WorkflowResult } from './workflows/deploy.js';
export type { CheckEvent, CheckReport, CheckResult, ServerReport } from './runtime-check/index.js';
export type { StatusReport } from './deployer/status.js';
export type { History, HistoryEntry, HistoryChange, HistoryObject } from './deployer/history.js';
export type { RunLogs, TaskLog } from './deployer/run-logs.js';

export const VERSION: string = pkg.version;

export interface ConfigOptions {
  /** The config file, relative to `cwd` (default config/config.yaml). */
  config?: string;
  /** Where relative paths start (default: the process's working directory). */
  cwd?: string;
  /**
   * The values an environment with `localStack: true` takes from a running local stack
   * (undefined when none is up); without it such environments cannot be resolved.
   */
  localStackOverlay?: () => Record<string, unknown> | undefined;
}

function loadOptions(options: ConfigOptions): LoadOptions {
  const load: LoadOptions = {};
  if (options.config !== undefined) load.configPath = options.config;
  if (options.cwd !== undefined) load.cwd = options.cwd;
  if (options.localStackOverlay) load.localStackOverlay = options.localStackOverlay;
  return load;
}

/** One environment's config, after validating the whole file (every problem at once). */
export async function loadConfig(options: ConfigOptions & { env: string }): Promise<ResolvedConfig> {
  const load = loadOptions(options);
  return resolveValidated(await readConfigFile(load), options.env, load);
}

export interface GenerateOptions extends ConfigOptions {
  /** One environment, several, or every one that resolves (the default). */
  env?: string | string[];
  /** Output root (default dist-artifacts, relative to cwd). */
  outDir?: string;
  /** Write `<outDir>/<env>/` (default true); false renders in memory only. */
  write?: boolean;
}

export interface GenerateResult {
  env: string;
  config: ResolvedConfig;
  manifest: Manifest;
  /** Every file of `<outDir>/<env>/`, with its bytes. */
  files: Array<{ path: string; bytes: Buffer }>;
  /** Where the files were written (absent with write: false). */
  dir?: string;
}

/** Validates the whole config and renders the artifacts of the chosen environments. */
export async function generate(options: GenerateOptions = {}): Promise<GenerateResult[]> {
  const load = loadOptions(options);
  const file = await readConfigFile(load);
  const { configs, skipped } = resolveEveryEnvironment(file, load);
  const wanted = options.env === undefined ? [...configs.keys()] : Array.isArray(options.env) ? options.env : [options.env];
  const chosen = wanted.map((env) => {
    const config = configs.get(env);
    if (config) return config;
    throw skipped.find((s) => s.env === env)?.reason ?? new UserError(`No environment "${env}" in ${file.source.file}.`, ExitCode.usage);
  });
  const outDir = resolve(options.cwd ?? process.cwd(), options.outDir ?? DEFAULT_OUT_DIR);
  const results: GenerateResult[] = [];
  for (const config of chosen) {
    const generated: GeneratedEnvironment = await generateEnvironment(config, VERSION);
    const result: GenerateResult = { env: config.envName, config, manifest: generated.manifest, files: generated.files };
    if (options.write !== false) result.dir = await writeEnvironment(outDir, generated);
    results.push(result);
  }
  return results;
}

export interface AwsOptions {
  /** AWS SDK clients to use instead of the default ones (credential chain, config region/endpoints). */
  clients?: AwsClients;
  /** Progress, as the CLI shows it. */
  onEvent?: (event: WorkflowEvent) => void;
}

export interface PlanOptions extends ConfigOptions, AwsOptions {
  env: string;
  /** Plan a rollback to the previous deploy record instead. */
  rollback?: boolean;
  /** Also read the deployed objects and diff them against the new ones. */
  diff?: boolean;
}

export interface PlanResult {
  plan: Plan;
  changes: number;
  /** True when the plan has refusals: nothing would be applied. */
  refused: boolean;
  diffs?: ArtifactDiff[];
}

/** As `deploy --timeout`: an environment update takes 20 to 40 minutes on MWAA. */
const DEFAULT_TIMEOUT_MS = 60 * 60_000;

function who() {
  return import('./workflows/deploy.js').then(({ currentDeployer }) => currentDeployer(userInfo().username, hostname()));
}

/** What a deploy would change (like `deploy --plan`); a refused plan is returned, not thrown. */
export async function plan(options: PlanOptions): Promise<PlanResult> {
  const config = await loadConfig(options);
  const [{ runDeployWorkflow }, { PlanRefusedError }] = await Promise.all([
    import('./workflows/deploy.js'),
    import('./deployer/deploy.js'),
  ]);
  try {
    const outcome = await runDeployWorkflow(
      {
        config,
        toolVersion: VERSION,
        outDir: resolve(options.cwd ?? process.cwd(), DEFAULT_OUT_DIR),
        planOnly: true,
        diff: options.diff === true,
        rollback: options.rollback === true,
        trigger: false,
        waitForRun: false,
        waitForAvailable: false,
        smoke: false,
        timeoutMs: DEFAULT_TIMEOUT_MS,
        conf: {},
        yes: false,
      },
      { emit: options.onEvent ?? (() => undefined), who: await who(), ...(options.clients && { clients: options.clients }) },
    );
    const result: PlanResult = {
      plan: outcome.result.plan,
      changes: outcome.result.plan.changes,
      refused: outcome.result.plan.refusals.length > 0,
    };
    if (outcome.diffs) result.diffs = outcome.diffs;
    return result;
  } catch (error) {
    if (error instanceof PlanRefusedError) return { plan: error.plan, changes: error.plan.changes, refused: true };
    throw error;
  }
}

export interface DeployOptions extends ConfigOptions, AwsOptions {
  env: string;
  /** Where the generated artifacts are written too (default dist-artifacts). */
  outDir?: string;
  /** Restore a deploy record's object versions instead: the previous one, or `rollbackTo`. */
  rollback?: boolean;
  /** With rollback: the record to restore (its id as `history` lists it, its hash, or a unique prefix). */
  rollbackTo?: string;
  /** Trigger the DAG afterwards (default true). */
  trigger?: boolean;
  /** Wait for the triggered run (default false). */
  wait?: boolean;
  /** Wait for a busy environment to become AVAILABLE instead of refusing (default false). */
  waitForAvailable?: boolean;
  /** After a successful wait, run the runtime check (default true). */
  smoke?: boolean;
  /** Limit of each wait, in milliseconds (default 60 minutes). */
  timeoutMs?: number;
  /** Run conf; overrides dag.triggerConf. */
  conf?: Record<string, string>;
  /** Asked with the plan before anything is written; default: apply without asking. */
  confirm?: (plan: Plan) => Promise<boolean>;
}

/** Plans and applies (like `deploy --yes`); a refused plan throws a UserError. */
export async function deploy(options: DeployOptions): Promise<WorkflowResult> {
  const config = await loadConfig(options);
  const { runDeployWorkflow } = await import('./workflows/deploy.js');
  const { confirm, onEvent } = options;
  // The plan is announced (event `planned`) just before the confirmation is asked for.
  let planned: Plan | undefined;
  const emit = (event: WorkflowEvent) => {
    if (event.type === 'planned') planned = event.plan;
    onEvent?.(event);
  };
  return runDeployWorkflow(
    {
      config,
      toolVersion: VERSION,
      outDir: resolve(options.cwd ?? process.cwd(), options.outDir ?? DEFAULT_OUT_DIR),
      planOnly: false,
      rollback: options.rollback === true,
      ...(options.rollbackTo !== undefined ? { rollbackTo: options.rollbackTo } : {}),
      trigger: options.trigger !== false,
      waitForRun: options.wait === true,
      waitForAvailable: options.waitForAvailable === true,
      smoke: options.smoke !== false,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      conf: { ...config.dag.triggerConf, ...(options.conf ?? {}) },
      yes: confirm === undefined,
    },
    {
      emit,
      who: await who(),
      ...(confirm && { ask: async () => (planned ? confirm(planned) : false) }),
      ...(options.clients && { clients: options.clients }),
    },
  );
}

export interface CheckOptions extends ConfigOptions, Omit<RuntimeCheckOptions, 'aws'> {
  env: string;
  clients?: Partial<Pick<AwsClients, 'secretsManager' | 'mwaa'>>;
  onEvent?: (event: CheckEvent) => void;
}

/** The runtime check of the environment's GPU servers (like `check`); failed checks are in the report. */
export async function check(options: CheckOptions): Promise<CheckReport> {
  const { env: _env, config: _file, cwd: _cwd, localStackOverlay: _overlay, clients, onEvent, ...checkOptions } = options;
  const config = await loadConfig(options);
  const { runRuntimeCheck } = await import('./runtime-check/index.js');
  return runRuntimeCheck(config, { ...checkOptions, ...(clients && { aws: clients }) }, onEvent);
}

export interface DayTwoOptions extends ConfigOptions, Pick<AwsOptions, 'clients'> {
  env: string;
  /** Told about a fallback (Airflow's REST API to the CLI, say); default: ignored. */
  onWarning?: (message: string) => void;
}

async function clientsFor(config: ResolvedConfig, options: DayTwoOptions): Promise<AwsClients> {
  if (options.clients) return options.clients;
  const { createAwsClients } = await import('./mwaa/clients.js');
  return createAwsClients(config);
}

/** The environment, what is deployed against what `generate` makes now, the DAG and its last runs (like `status`). */
export async function status(options: DayTwoOptions & { /** Default 5, as `status`. */ runs?: number }): Promise<StatusReport> {
  const config = await loadConfig(options);
  const { runStatus } = await import('./workflows/status.js');
  const warn = options.onWarning ?? (() => undefined);
  const { runs } = options;
  return runStatus({ config, toolVersion: VERSION, ...(runs !== undefined ? { runs } : {}), warn }, await clientsFor(config, options));
}

/** The deploy records, newest first (like `history`). */
export async function history(options: DayTwoOptions): Promise<History> {
  const config = await loadConfig(options);
  const { environmentHistory } = await import('./workflows/day-two.js');
  return environmentHistory(config, await clientsFor(config, options));
}

export interface LogsOptions extends DayTwoOptions {
  /** Default: the newest run. */
  runId?: string;
  task?: string;
  /** A server name from the config. */
  server?: string;
  /** Lines from the end of each log (default 200, as `logs`); Infinity: each whole log, up to the answer cap. */
  lines?: number;
}

/** A run's task logs through Airflow's REST API (like `logs`). */
export async function logs(options: LogsOptions): Promise<RunLogs> {
  const config = await loadConfig(options);
  const { environmentLogs } = await import('./workflows/day-two.js');
  const { runId, task, server, lines } = options;
  return environmentLogs(config, await clientsFor(config, options), {
    ...(runId !== undefined ? { runId } : {}),
    ...(task !== undefined ? { task } : {}),
    ...(server !== undefined ? { server } : {}),
    ...(lines !== undefined ? { lines } : {}),
    warn: options.onWarning ?? (() => undefined),
  });
}
