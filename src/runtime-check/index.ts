/**
 * The runtime check: for each selected server, within a concurrency bound, one SSH connection
 * that proves it is reachable with the pinned host key, logs in as the configured user, has the
 * checkout on the configured branch and a valid version file; optionally compares that file with
 * the Airflow Variables the DAG wrote. Per-server problems are failed checks in the report, never
 * exceptions; only usage problems and an unobtainable key throw.
 */
import { performance } from 'node:perf_hooks';
import type { ParsedKey } from 'ssh2';
import type { AwsClients } from '../mwaa/clients.js';
import { awsErrorContext } from '../config/aws-error-context.js';
import type { ResolvedConfig, ResolvedServer } from '../config/resolved.js';
import { versionRepositories } from '../config/repositories.js';
import { variableKey } from '../config/variables.js';
import { ExitCode, UserError } from '../errors.js';
import { fingerprint, parsePublicKeyLine, publicKeyLine } from './host-key.js';
import { mapWithConcurrency } from '../util/concurrency.js';
import { serverOk, type CheckEvent, type CheckReport, type CheckResult, type ServerReport } from './report.js';
import { checkServer, elapsed, repositoryTag } from './server-check.js';
import { fetchHostKey } from './ssh.js';
import { keyFromFile, keyFromSecret, parsePrivateKey, type LoadedKey } from './ssh-key.js';
import { compareValues, summarizeComparisons, type VariableReader } from './variables.js';
import { VersionFileReadings, type VersionValue } from './version-file.js';

export type { CheckEvent, CheckReport, CheckResult, ServerReport } from './report.js';
export type { VariableComparison, VariableReader } from './variables.js';
export { formatReport, reportJson } from './format.js';

export const DEFAULT_CONCURRENCY = 16;
/** More SSH handshakes at once only queue in the kernel and the servers' MaxStartups. */
export const MAX_CONCURRENCY = 1024;

export interface RuntimeCheckOptions {
  /** Server names; all servers when absent or empty. */
  servers?: string[];
  concurrency?: number;
  compareVariables?: boolean;
  identityFile?: string;
  /** Key text already in hand; wins over identityFile and Secrets Manager. */
  privateKey?: string;
  /** Only reachable and whoami (no git, no version file, no Variables). */
  quick?: boolean;
  /** First-time setup: collect each server's host key instead of checking it. */
  printHostKeys?: boolean;
  aws?: Partial<Pick<AwsClients, 'secretsManager' | 'mwaa'>>;
  variableReader?: VariableReader;
  /** Monotonic clock in milliseconds. */
  now?: () => number;
}

export async function runRuntimeCheck(
  config: ResolvedConfig,
  options: RuntimeCheckOptions = {},
  events: (event: CheckEvent) => void = () => undefined,
): Promise<CheckReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const servers = selectServers(config, options.servers);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new UserError(`--concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, got ${String(concurrency)}.`, ExitCode.usage);
  }

  if (options.printHostKeys) {
    const reports = await mapWithConcurrency(servers, concurrency, async (server) => {
      events({ type: 'server-started', server: server.name });
      const report = await collectHostKey(config, server, now);
      events({ type: 'server-finished', server: report });
      return report;
    });
    return { ok: reports.every((r) => r.ok), mode: 'host-keys', servers: reports, durationMs: elapsed(started, now) };
  }

  const { key, source } = await loadKey(config, options);
  events({ type: 'key-loaded', source });

  const values = new Map<string, Record<string, Record<string, VersionValue>>>();
  const versionFiles = new VersionFileReadings();
  const reports = await mapWithConcurrency(servers, concurrency, async (server) => {
    events({ type: 'server-started', server: server.name });
    const outcome = await checkServer({ config, server, key, now, quick: options.quick === true, versionFiles }).catch(
      (error: unknown): Awaited<ReturnType<typeof checkServer>> => ({
        checks: [{ name: 'reachable', ok: false, ms: 0, reason: `unexpected error: ${(error as Error).message}` }],
      }),
    );
    if (outcome.values) values.set(server.name, outcome.values);
    const report: ServerReport = {
      name: server.name,
      host: server.host,
      port: server.port,
      ok: serverOk(outcome.checks),
      checks: outcome.checks,
      ...(outcome.git ? { git: outcome.git } : {}),
      ...(outcome.repositories && config.repositories.length > 1 ? { repositories: outcome.repositories } : {}),
      ...(outcome.gpus ? { gpus: outcome.gpus } : {}),
    };
    events({ type: 'server-finished', server: report });
    return report;
  });

  if (options.compareVariables && !options.quick) {
    const reader = options.variableReader ?? (await defaultVariableReader(config, options, events));
    const accessMode = async () => {
      const { readWebserverAccessMode } = await import('../mwaa/access-mode.js');
      const mwaa = options.aws?.mwaa ?? (await import('../mwaa/clients.js')).createAwsClients(config).mwaa;
      return readWebserverAccessMode(mwaa, config.mwaa.environmentName);
    };
    await compareAllVariables(config, reports, values, reader, now, events, accessMode);
  }

  return { ok: reports.every((r) => r.ok), mode: 'check', servers: reports, durationMs: elapsed(started, now) };
}

function selectServers(config: ResolvedConfig, names: string[] | undefined): ResolvedServer[] {
  if (!names || names.length === 0) return config.servers;
  const known = new Map(config.servers.map((server) => [server.name, server]));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new UserError(
      `Unknown server ${unknown.map((n) => JSON.stringify(n)).join(', ')} in environment "${config.envName}". ` +
        `Configured servers: ${config.servers.map((s) => s.name).join(', ')}.`,
      ExitCode.usage,
    );
  }
  return [...new Set(names)].map((name) => known.get(name) as ResolvedServer);
}

async function loadKey(config: ResolvedConfig, options: RuntimeCheckOptions): Promise<{ key: ParsedKey; source: LoadedKey['source'] }> {
  if (options.privateKey !== undefined) return { key: parsePrivateKey(options.privateKey, 'the given private key'), source: 'inline' };
  if (options.identityFile !== undefined) return keyFromFile(options.identityFile);
  const client = options.aws?.secretsManager ?? (await import('../mwaa/clients.js')).createAwsClients(config).secretsManager;
  try {
    return await keyFromSecret(client, config.secrets.sshKeyArn, config.secrets.sshKeyJsonField);
  } catch (error) {
    const { explainRemoteError } = await import('../mwaa/aws-errors.js');
    throw explainRemoteError(error, awsErrorContext(config));
  }
}

async function collectHostKey(config: ResolvedConfig, server: ResolvedServer, now: () => number): Promise<ServerReport> {
  const started = now();
  const base = { name: server.name, host: server.host, port: server.port };
  try {
    const presented = await fetchHostKey({
      host: server.host,
      port: server.port,
      user: server.user,
      connectTimeoutMs: config.ssh.connectTimeoutSeconds * 1000,
      retries: config.ssh.connectRetries,
      now,
    });
    let matchesPinned: boolean | null = null;
    if (server.hostPublicKey) {
      try {
        matchesPinned = parsePublicKeyLine(server.hostPublicKey).blob.equals(presented);
      } catch {
        matchesPinned = false;
      }
    }
    const print = fingerprint(presented);
    const versus = matchesPinned === null ? 'not pinned yet' : matchesPinned ? 'matches the pinned key' : 'DIFFERS from the pinned key';
    // A key that differs from the pinned one is the finding this mode exists for: it fails.
    const ok = matchesPinned !== false;
    const check: CheckResult = { name: 'host-key', ok, ms: elapsed(started, now), reason: `${print} (${versus})` };
    return {
      ...base,
      ok,
      checks: [check],
      hostKey: { line: publicKeyLine(presented), fingerprint: print, matchesPinned },
    };
  } catch (error) {
    const check: CheckResult = { name: 'host-key', ok: false, ms: elapsed(started, now), reason: (error as Error).message };
    return { ...base, ok: false, checks: [check] };
  }
}

/** Airflow's REST API through the web login (the listed CLI commands where that is denied). */
async function defaultVariableReader(
  config: ResolvedConfig,
  options: RuntimeCheckOptions,
  events: (event: CheckEvent) => void,
): Promise<VariableReader> {
  const { mwaaAccess } = await import('../mwaa/access.js');
  const { caBundleFor } = await import('../mwaa/ca-bundle.js');
  const mwaa = options.aws?.mwaa ?? (await import('../mwaa/clients.js')).createAwsClients(config).mwaa;
  const settings = {
    environmentName: config.mwaa.environmentName,
    webserverScheme: config.mwaa.webserverScheme,
    airflowVersion: config.airflow.version,
    ca: caBundleFor(config)?.pem,
  };
  return mwaaAccess(mwaa, settings, (message) => events({ type: 'warning', message })).airflow;
}

/**
 * Reads every needed Variable in one go, then adds a `variables` check per server and repository
 * with a version file (keys from src/config/variables.ts, the names the DAG was given).
 */
async function compareAllVariables(
  config: ResolvedConfig,
  reports: ServerReport[],
  values: ReadonlyMap<string, Record<string, Record<string, VersionValue>>>,
  reader: VariableReader,
  now: () => number,
  events: (event: CheckEvent) => void,
  /** GetEnvironment's WebserverAccessMode, asked only when the web server did not answer. */
  accessMode: () => Promise<string | undefined>,
): Promise<void> {
  const versioned = versionRepositories(config.repositories);
  const mappingsOf = (server: string, repository: (typeof versioned)[number], fileValues: Record<string, VersionValue>) =>
    repository.versionFile.variables.map((m) => ({
      fileKey: m.key,
      key: variableKey(config, server, repository.name, m.variable),
      fileValue: fileValues[m.key] as VersionValue,
    }));
  const wanted = reports.flatMap((report) =>
    versioned.flatMap((repository) => {
      const fileValues = values.get(report.name)?.[repository.name];
      return fileValues ? mappingsOf(report.name, repository, fileValues).map((m) => m.key) : [];
    }),
  );
  const keys = [...new Set(wanted)];
  events({ type: 'variables-started', count: keys.length });
  const started = now();
  let airflow = new Map<string, string | undefined>();
  let failure: string | undefined;
  try {
    airflow = keys.length > 0 ? await reader.variables(keys) : airflow;
  } catch (error) {
    failure = await variablesFailure(error, config, accessMode);
  }
  const ms = elapsed(started, now);

  for (const report of reports) {
    for (const repository of versioned) {
      const tag = repositoryTag(config.repositories, repository);
      const fileValues = values.get(report.name)?.[repository.name];
      let check: CheckResult;
      if (!fileValues) {
        check = { name: 'variables', ...tag, ok: false, ms: 0, reason: 'skipped: no valid version file to compare with' };
      } else if (failure !== undefined) {
        check = { name: 'variables', ...tag, ok: false, ms, reason: `cannot read Airflow Variables: ${failure}` };
      } else {
        const rows = compareValues(mappingsOf(report.name, repository, fileValues), airflow);
        report.variables = [...(report.variables ?? []), ...rows];
        check = { name: 'variables', ...tag, ok: rows.every((row) => row.equal), ms, reason: summarizeComparisons(rows) };
      }
      report.checks.push(check);
    }
    report.ok = serverOk(report.checks);
  }
}

/**
 * Why the Variables could not be read, on one line. A web server that did not answer at all, of an
 * environment that is PRIVATE_ONLY, is named as such: it answers only inside its VPC.
 */
async function variablesFailure(error: unknown, config: ResolvedConfig, accessMode: () => Promise<string | undefined>): Promise<string> {
  const { PRIVATE_ONLY, PRIVATE_ONLY_REASON, unreachableWebServer } = await import('../mwaa/web-server-access.js');
  const unreachable = unreachableWebServer(error);
  if (unreachable && (await accessMode()) === PRIVATE_ONLY) {
    return (
      `the Airflow web server at ${unreachable.endpoint} could not be reached (${unreachable.request}: ${unreachable.detail}). ` +
      `${PRIVATE_ONLY_REASON} Compare the Variables from a host in the VPC, or run check without --compare-variables.`
    );
  }
  const { explainRemoteError } = await import('../mwaa/aws-errors.js');
  const explained = explainRemoteError(error, awsErrorContext(config));
  return explained instanceof Error ? explained.message.replace(/\n/g, ' ') : String(explained);
}
