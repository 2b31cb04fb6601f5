/**
 * The one MWAA environment the local stack runs: its record, its API shape (GetEnvironment) and
 * the validation of UpdateEnvironment input, field by field as MWAA's API reference documents them
 * (https://docs.aws.amazon.com/mwaa/latest/API/API_UpdateEnvironment.html). Pure: no I/O, time
 * passed in.
 */
import { MWAA_VERSIONED_OBJECTS, type MwaaVersionedObject } from '../../../src/mwaa/environment-objects.js';
import { ServiceError } from './errors.js';

export type EnvironmentStatus =
  | 'CREATING'
  | 'AVAILABLE'
  | 'UPDATING'
  | 'ROLLING_BACK'
  | 'UPDATE_FAILED'
  | 'UNAVAILABLE'
  | 'MAINTENANCE'
  | 'CREATING_SNAPSHOT';

/** MWAA's log modules (LoggingConfiguration members) and the CloudWatch log group suffix of each. */
export const LOG_MODULES = {
  DagProcessingLogs: 'DAGProcessing',
  SchedulerLogs: 'Scheduler',
  TaskLogs: 'Task',
  WebserverLogs: 'WebServer',
  WorkerLogs: 'Worker',
} as const;
export type LogModule = keyof typeof LOG_MODULES;
const LOG_LEVELS = ['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'];

export interface ModuleLogging {
  enabled: boolean;
  logLevel: string;
}

/** MWAA's console default: task logs on at INFO, the rest off. */
export function defaultLogging(): Record<LogModule, ModuleLogging> {
  const off = { enabled: false, logLevel: 'INFO' };
  return { DagProcessingLogs: off, SchedulerLogs: off, TaskLogs: { enabled: true, logLevel: 'INFO' }, WebserverLogs: off, WorkerLogs: off };
}

export interface LastUpdate {
  status: 'SUCCESS' | 'PENDING' | 'FAILED';
  createdAtMs: number;
  source?: string;
  error?: { errorCode: string; errorMessage: string };
  workerReplacementStrategy?: string;
}

export interface EnvironmentRecord {
  name: string;
  arn: string;
  status: EnvironmentStatus;
  airflowVersion: string;
  sourceBucketArn: string;
  dagS3Path: string;
  pluginsS3Path?: string;
  pluginsS3ObjectVersion?: string;
  requirementsS3Path?: string;
  requirementsS3ObjectVersion?: string;
  /** Applied as AIRFLOW__SECTION__KEY to every Airflow process. */
  airflowConfigurationOptions: Record<string, string>;
  webserverUrl: string;
  createdAtMs: number;
  lastUpdate?: LastUpdate;
  /** Settings MWAA accepts that have no local effect (workers, schedulers, network, ...). */
  inertSettings: Record<string, unknown>;
  /** LoggingConfiguration; absent in records written before it existed (then: the default). */
  logging?: Record<LogModule, ModuleLogging>;
}

/** GetEnvironment's `Environment` member, timestamps as epoch seconds (REST-JSON default). */
export function toApiEnvironment(env: EnvironmentRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Name: env.name,
    Arn: env.arn,
    Status: env.status,
    AirflowVersion: env.airflowVersion,
    SourceBucketArn: env.sourceBucketArn,
    DagS3Path: env.dagS3Path,
    WebserverUrl: env.webserverUrl,
    CreatedAt: env.createdAtMs / 1000,
    EnvironmentClass: 'mw1.small',
    Schedulers: 2,
    MinWorkers: 1,
    MaxWorkers: 10,
    WebserverAccessMode: DEFAULT_WEBSERVER_ACCESS_MODE,
  };
  if (env.pluginsS3Path !== undefined) out.PluginsS3Path = env.pluginsS3Path;
  if (env.pluginsS3ObjectVersion !== undefined) out.PluginsS3ObjectVersion = env.pluginsS3ObjectVersion;
  if (env.requirementsS3Path !== undefined) out.RequirementsS3Path = env.requirementsS3Path;
  if (env.requirementsS3ObjectVersion !== undefined) out.RequirementsS3ObjectVersion = env.requirementsS3ObjectVersion;
  if (Object.keys(env.airflowConfigurationOptions).length > 0) {
    out.AirflowConfigurationOptions = env.airflowConfigurationOptions;
  }
  for (const [key, value] of Object.entries(env.inertSettings)) out[key] = value;
  out.LoggingConfiguration = apiLogging(env);
  if (env.lastUpdate) {
    const last: Record<string, unknown> = {
      Status: env.lastUpdate.status,
      CreatedAt: env.lastUpdate.createdAtMs / 1000,
    };
    if (env.lastUpdate.source) last.Source = env.lastUpdate.source;
    if (env.lastUpdate.workerReplacementStrategy) last.WorkerReplacementStrategy = env.lastUpdate.workerReplacementStrategy;
    if (env.lastUpdate.error) {
      last.Error = { ErrorCode: env.lastUpdate.error.errorCode, ErrorMessage: env.lastUpdate.error.errorMessage };
    }
    out.LastUpdate = last;
  }
  return out;
}

/** GetEnvironment's LoggingConfiguration: each module with its CloudWatch log group when enabled. */
function apiLogging(env: EnvironmentRecord): Record<string, unknown> {
  const region = env.arn.split(':')[3] ?? 'us-east-1';
  const account = env.arn.split(':')[4] ?? '123456789012';
  const out: Record<string, unknown> = {};
  for (const [module, suffix] of Object.entries(LOG_MODULES) as [LogModule, string][]) {
    const setting = (env.logging ?? defaultLogging())[module];
    out[module] = {
      Enabled: setting.enabled,
      LogLevel: setting.logLevel,
      ...(setting.enabled ? { CloudWatchLogGroupArn: `arn:aws:logs:${region}:${account}:log-group:airflow-${env.name}-${suffix}` } : {}),
    };
  }
  return out;
}

/** What an accepted UpdateEnvironment asks for; absent members keep their current value. */
export interface UpdateRequest {
  dagS3Path?: string;
  plugins?: { path: string; version?: string };
  requirements?: { path: string; version?: string };
  airflowConfigurationOptions?: Record<string, string>;
  logging?: Partial<Record<LogModule, ModuleLogging>>;
  workerReplacementStrategy?: string;
  inertSettings: Record<string, unknown>;
}

const STRING_FIELDS = [
  'AirflowVersion',
  'DagS3Path',
  'EnvironmentClass',
  'ExecutionRoleArn',
  'PluginsS3ObjectVersion',
  'PluginsS3Path',
  'RequirementsS3ObjectVersion',
  'RequirementsS3Path',
  'SourceBucketArn',
  'StartupScriptS3ObjectVersion',
  'StartupScriptS3Path',
  'WebserverAccessMode',
  'WeeklyMaintenanceWindowStart',
] as const;
const INT_FIELDS = ['MaxWebservers', 'MaxWorkers', 'MinWebservers', 'MinWorkers', 'Schedulers'] as const;
const OBJECT_FIELDS = ['AirflowConfigurationOptions', 'LoggingConfiguration', 'NetworkConfiguration'] as const;
/** WebserverAccessMode's values in MWAA's API reference; an environment created without one is PUBLIC_ONLY. */
export const WEBSERVER_ACCESS_MODES = ['PRIVATE_ONLY', 'PUBLIC_ONLY', 'PUBLIC_AND_PRIVATE'] as const;
export const DEFAULT_WEBSERVER_ACCESS_MODE: (typeof WEBSERVER_ACCESS_MODES)[number] = 'PUBLIC_ONLY';
/** Enumerated members and the values MWAA's API reference allows. */
const ENUM_FIELDS: Record<string, readonly string[]> = {
  EnvironmentClass: ['mw1.micro', 'mw1.small', 'mw1.medium', 'mw1.large', 'mw1.xlarge', 'mw1.2xlarge'],
  WebserverAccessMode: WEBSERVER_ACCESS_MODES,
  WorkerReplacementStrategy: ['FORCED', 'GRACEFUL'],
};
const INERT_FIELDS = new Set<string>([
  'EnvironmentClass',
  'ExecutionRoleArn',
  'WebserverAccessMode',
  'WeeklyMaintenanceWindowStart',
  'MaxWebservers',
  'MaxWorkers',
  'MinWebservers',
  'MinWorkers',
  'Schedulers',
  'NetworkConfiguration',
]);
const KNOWN_FIELDS = new Set<string>([...STRING_FIELDS, ...INT_FIELDS, ...OBJECT_FIELDS, 'WorkerReplacementStrategy']);

/** MWAA's rule for configuration option names: `section.key`. */
const CONFIG_KEY = /^[a-z_]+\.[a-z0-9_]+$/;

/**
 * Checks an UpdateEnvironment body against the current record. Throws ValidationException with
 * every problem found, so a caller fixes them in one go.
 */
export function validateUpdate(body: unknown, current: EnvironmentRecord): UpdateRequest {
  if (current.status !== 'AVAILABLE' && current.status !== 'UPDATE_FAILED') {
    throw new ServiceError(
      'ValidationException',
      `Environment ${current.name} is ${current.status}; updates are accepted only when it is AVAILABLE or UPDATE_FAILED.`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServiceError('ValidationException', 'Request body must be a JSON object.');
  }
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(input)) if (!KNOWN_FIELDS.has(key)) problems.push(`unknown field ${key}`);
  for (const key of STRING_FIELDS) {
    const value = input[key];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 1024)) {
      problems.push(`${key} must be a non-empty string`);
    }
  }
  for (const key of INT_FIELDS) {
    const value = input[key];
    if (value !== undefined && !Number.isInteger(value)) problems.push(`${key} must be an integer`);
  }
  for (const key of OBJECT_FIELDS) {
    const value = input[key];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      problems.push(`${key} must be an object`);
    }
  }
  for (const [key, allowed] of Object.entries(ENUM_FIELDS)) {
    const value = input[key];
    if (value !== undefined && (typeof value !== 'string' || !allowed.includes(value))) {
      problems.push(`${key} must be one of ${allowed.join(', ')}`);
    }
  }
  if (problems.length > 0) throw new ServiceError('ValidationException', problems.join('; '));
  const logging =
    input.LoggingConfiguration === undefined ? undefined : validateLogging(input.LoggingConfiguration as Record<string, unknown>, problems);

  const str = (key: (typeof STRING_FIELDS)[number]): string | undefined => input[key] as string | undefined;
  if (str('AirflowVersion') !== undefined && str('AirflowVersion') !== current.airflowVersion) {
    problems.push(
      `AirflowVersion ${str('AirflowVersion')} differs from ${current.airflowVersion}; the local stack cannot upgrade in place (bring it up again with the other version)`,
    );
  }
  if (str('SourceBucketArn') !== undefined && str('SourceBucketArn') !== current.sourceBucketArn) {
    problems.push(`SourceBucketArn must stay ${current.sourceBucketArn}`);
  }
  if (str('DagS3Path') !== undefined && !isRelativeKey(str('DagS3Path')!)) {
    problems.push(`DagS3Path must be a relative S3 key such as "dags" (got ${JSON.stringify(str('DagS3Path'))})`);
  }
  const currentPaths: Partial<Record<MwaaVersionedObject, string>> = {
    Plugins: current.pluginsS3Path,
    Requirements: current.requirementsS3Path,
  };
  const pins: Partial<Record<MwaaVersionedObject, { path: string; version?: string }>> = {};
  for (const [object, fields] of Object.entries(MWAA_VERSIONED_OBJECTS) as [
    MwaaVersionedObject,
    (typeof MWAA_VERSIONED_OBJECTS)[MwaaVersionedObject],
  ][]) {
    const path = str(fields.path);
    if (path !== undefined && !isRelativeKey(path)) {
      problems.push(`${fields.path} must be a relative S3 key such as "plugins.zip" (got ${JSON.stringify(path)})`);
    }
    const pin = pinned(fields, path, str(fields.version), currentPaths[object], problems);
    if (pin) pins[object] = pin;
  }
  if (pins.StartupScript) problems.push('startup scripts are not supported by the local stack');
  let options: Record<string, string> | undefined;
  if (input.AirflowConfigurationOptions !== undefined) {
    options = {};
    for (const [key, value] of Object.entries(input.AirflowConfigurationOptions as Record<string, unknown>)) {
      if (!CONFIG_KEY.test(key)) problems.push(`AirflowConfigurationOptions key ${key} must look like section.key`);
      else if (typeof value !== 'string') problems.push(`AirflowConfigurationOptions.${key} must be a string`);
      else options[key] = value;
    }
  }
  if (problems.length > 0) throw new ServiceError('ValidationException', problems.join('; '));

  const inertSettings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) if (INERT_FIELDS.has(key)) inertSettings[key] = value;
  const request: UpdateRequest = { inertSettings };
  const dag = str('DagS3Path');
  if (dag !== undefined) request.dagS3Path = dag.replace(/\/+$/, '');
  if (pins.Plugins) request.plugins = pins.Plugins;
  if (pins.Requirements) request.requirements = pins.Requirements;
  if (options) request.airflowConfigurationOptions = options;
  if (logging) request.logging = logging;
  if (typeof input.WorkerReplacementStrategy === 'string') request.workerReplacementStrategy = input.WorkerReplacementStrategy;
  return request;
}

/** LoggingConfigurationInput: per module `{Enabled: boolean, LogLevel: CRITICAL|ERROR|WARNING|INFO|DEBUG}`. */
function validateLogging(input: Record<string, unknown>, problems: string[]): Partial<Record<LogModule, ModuleLogging>> {
  const out: Partial<Record<LogModule, ModuleLogging>> = {};
  for (const [module, value] of Object.entries(input)) {
    if (!(module in LOG_MODULES)) {
      problems.push(`LoggingConfiguration.${module} is not a log module (${Object.keys(LOG_MODULES).join(', ')})`);
      continue;
    }
    const setting = value as { Enabled?: unknown; LogLevel?: unknown } | null;
    if (typeof setting !== 'object' || setting === null || typeof setting.Enabled !== 'boolean') {
      problems.push(`LoggingConfiguration.${module}.Enabled must be a boolean`);
      continue;
    }
    if (typeof setting.LogLevel !== 'string' || !LOG_LEVELS.includes(setting.LogLevel)) {
      problems.push(`LoggingConfiguration.${module}.LogLevel must be one of ${LOG_LEVELS.join(', ')}`);
      continue;
    }
    out[module as LogModule] = { enabled: setting.Enabled, logLevel: setting.LogLevel };
  }
  return out;
}

function pinned(
  fields: { path: string; version: string },
  path: string | undefined,
  version: string | undefined,
  currentPath: string | undefined,
  problems: string[],
): { path: string; version?: string } | undefined {
  if (path === undefined && version === undefined) return undefined;
  const effectivePath = path ?? currentPath;
  if (effectivePath === undefined) {
    problems.push(`${fields.version} needs ${fields.path} (none is set on the environment)`);
    return undefined;
  }
  return version === undefined ? { path: effectivePath } : { path: effectivePath, version };
}

function isRelativeKey(key: string): boolean {
  return !key.startsWith('/') && !key.includes('://') && !key.split('/').some((part) => part === '..');
}
