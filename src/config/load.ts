/**
 * Loads config/config.yaml: safe YAML, defaults deep-merged with one environment's overrides,
 * the local stack's values overlaid where the environment asks for them, then one validation that
 * reports every problem with the path and line:column it came from.
 */
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, ExitCode, UserError, type ConfigIssue } from '../errors.js';
import { DEFAULT_CONFIG_PATH } from './default-path.js';
import { didYouMean } from '../util/did-you-mean.js';
import { issueMessage, knownKeysAt, unknownKeyMessage } from './messages.js';
import { resolveEnvironment, type ResolvedConfig } from './resolved.js';
import { configFileSchema, environmentSchema } from './schema.js';
import { FileTooLargeError, readBounded } from '../util/bounded-read.js';
import { MAX_CONFIG_BYTES, parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

/** Re-exported for the loader's callers; defined apart so the CLI's command table reads it without the loader. */
export { DEFAULT_CONFIG_PATH };

export interface LoadOptions {
  configPath?: string;
  cwd?: string;
  /**
   * The values an environment with `localStack: true` takes from a running local stack, or
   * undefined when none is up. The caller supplies it (the CLI reads the stack's state file), so
   * this module depends on no stack.
   */
  localStackOverlay?: () => Record<string, unknown> | undefined;
}

export interface ConfigFile {
  path: string;
  source: YamlSource;
  defaults: Record<string, unknown>;
  environments: Record<string, Record<string, unknown>>;
}

export async function readConfigFile(options: LoadOptions = {}): Promise<ConfigFile> {
  const cwd = options.cwd ?? process.cwd();
  const path = resolve(cwd, options.configPath ?? DEFAULT_CONFIG_PATH);
  const shown = options.configPath ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = (await readBounded(path, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      error instanceof FileTooLargeError
        ? `${shown} is larger than ${MAX_CONFIG_BYTES} bytes; a config file is a few kilobytes. Is --config the right file?`
        : code === 'ENOENT'
          ? `No config file at ${shown}. Create one with: npx mwaa-gpu-cicd init (or pass --config <file>).`
          : `Cannot read ${shown}: ${(error as Error).message}`,
      ExitCode.usage,
    );
  }
  const { source, issues } = parseYamlSource(shown, text);
  if (!source) throw new ConfigError(shown, issues);
  const parsed = configFileSchema.safeParse(source.value ?? {});
  if (!parsed.success)
    throw new ConfigError(
      shown,
      zodIssues(parsed.error, source, configFileSchema, (p) => p),
    );
  return { path, source, defaults: parsed.data.defaults, environments: parsed.data.environments };
}

export function environmentNames(file: ConfigFile): string[] {
  return Object.keys(file.environments).sort();
}

/** True when the environment takes its values from the local stack. */
export function usesLocalStack(file: ConfigFile, env: string): boolean {
  const merged = deepMerge(file.defaults, file.environments[env] ?? {});
  return (merged as { localStack?: unknown }).localStack === true;
}

export function resolveConfig(file: ConfigFile, env: string, options: LoadOptions = {}): ResolvedConfig {
  const override = requireEnvironment(file, env);
  let merged = deepMerge(file.defaults, override) as Record<string, unknown>;
  let overlay: Record<string, unknown> = {};
  if (merged.localStack === true) {
    const stackValues = options.localStackOverlay?.();
    if (!stackValues) {
      throw new UserError(
        `Environment "${env}" takes its servers, secret and endpoints from the local stack, which is not up. ` +
          'Start it: npx mwaa-gpu-cicd local up',
        2,
      );
    }
    // The stack's one repository fills in the `git` shorthand; a repositories list names its own.
    const { git: stackGit, ...rest } = stackValues;
    overlay = merged.repositories === undefined || merged.repositories === null ? stackValues : rest;
    merged = deepMerge(merged, overlay) as Record<string, unknown>;
  }
  const parsed = environmentSchema.safeParse(merged);
  if (!parsed.success) {
    const origin = (path: PathSegment[]): PathSegment[] => {
      if (hasPath(overlay, path)) return ['(local stack state)', ...path];
      if (hasPath(override, path) || !hasPath(file.defaults, path)) return ['environments', env, ...path];
      return ['defaults', ...path];
    };
    throw new ConfigError(file.source.file, zodIssues(parsed.error, file.source, environmentSchema, origin, merged));
  }
  return resolveEnvironment(env, parsed.data);
}

/** The overrides of `env`, or a usage error naming the environments there are. */
export function requireEnvironment(file: ConfigFile, env: string): Record<string, unknown> {
  const override = file.environments[env];
  if (override) return override;
  const names = environmentNames(file);
  if (env === '') {
    throw new UserError(`--env needs an environment name: ${names.join(', ')}.`, ExitCode.usage);
  }
  throw new UserError(
    `No environment "${env}" in ${file.source.file}.${didYouMean(env, names)} Known environments: ${names.join(', ')}.`,
    ExitCode.usage,
  );
}

export interface ResolvedFile {
  /** Every environment that resolved, by name. */
  configs: Map<string, ResolvedConfig>;
  /** Environments that could not be resolved for a reason other than invalid values (no local stack). */
  skipped: Array<{ env: string; reason: UserError }>;
}

/**
 * Validates the whole file, as `terraform validate` does: every environment is resolved and every
 * problem in any of them is reported at once (a problem in `defaults` once, not per environment).
 * An environment that needs the local stack while it is down is skipped, not failed.
 */
export function resolveEveryEnvironment(file: ConfigFile, options: LoadOptions = {}): ResolvedFile {
  const configs = new Map<string, ResolvedConfig>();
  const skipped: ResolvedFile['skipped'] = [];
  const issues = new Map<string, ConfigIssue>();
  for (const env of environmentNames(file)) {
    try {
      configs.set(env, resolveConfig(file, env, options));
    } catch (error) {
      if (error instanceof ConfigError) {
        for (const issue of error.issues) issues.set(`${issue.path}\0${issue.message}\0${issue.line ?? ''}`, issue);
      } else if (error instanceof UserError) {
        skipped.push({ env, reason: error });
      } else {
        throw error;
      }
    }
  }
  if (issues.size > 0) throw new ConfigError(file.source.file, sortIssues([...issues.values()]));
  return { configs, skipped };
}

/**
 * One environment, after validating the whole file: an unknown name is a usage error first; a
 * problem anywhere in the file fails, even in another environment.
 */
export function resolveValidated(file: ConfigFile, env: string, options: LoadOptions = {}): ResolvedConfig {
  requireEnvironment(file, env);
  const { configs, skipped } = resolveEveryEnvironment(file, options);
  const config = configs.get(env);
  if (config) return config;
  throw skipped.find((s) => s.env === env)?.reason ?? new UserError(`Environment "${env}" could not be resolved.`);
}

export async function loadConfig(options: LoadOptions & { env: string }): Promise<ResolvedConfig> {
  return resolveValidated(await readConfigFile(options), options.env, options);
}

/** Objects merge key by key; arrays, scalars and null replace. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) result[key] = deepMerge(base[key], value);
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasPath(value: unknown, path: PathSegment[]): boolean {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !(segment in (node as object))) return false;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return true;
}

function valueAt(value: unknown, path: PathSegment[]): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

export function formatPath(path: PathSegment[]): string {
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text ? `${text}.${segment}` : segment;
  }, '');
}

/** Flattens zod issues into ours: one per problem, with the file path, position and a plain message. */
function zodIssues(
  error: z.ZodError,
  source: YamlSource,
  schema: unknown,
  origin: (path: PathSegment[]) => PathSegment[],
  data: unknown = source.value,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: PathSegment[], message: string) => {
    const filePath = origin(path);
    const located = filePath[0] === '(local stack state)' ? undefined : source.locate(filePath);
    issues.push({ path: formatPath(filePath), message, ...located });
  };
  const segments = (issue: z.core.$ZodIssue) => issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
  // Unknown keys by the path of their mapping: a missing key beside one may be it, misspelt.
  const unknownAt = new Map<string, string[]>();
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') unknownAt.set(formatPath(segments(issue)), issue.keys);
  }
  for (const issue of error.issues) {
    const path = segments(issue);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) add([...path, key], unknownKeyMessage(key, known));
      continue;
    }
    const filePath = origin(path);
    const scalar = filePath[0] === '(local stack state)' ? undefined : source.scalarAt(filePath);
    const unknownSiblings = unknownAt.get(formatPath(path.slice(0, -1)));
    add(path, issueMessage(issue, { found: valueAt(data, path), scalar, ...(unknownSiblings && { unknownSiblings }) }));
  }
  return sortIssues(issues);
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path));
}
