/**
 * Loads config/config.yaml: safe YAML, defaults deep-merged with one environment's overrides,
 * the local stack's values overlaid where the environment asks for them, then one validation that
 * reports every problem with the path and line:column it came from.
 */
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, ExitCode, UserError, type ConfigIssue } from '../errors.js';
import { resolveEnvironment, type ResolvedConfig } from './resolved.js';
import { configFileSchema, environmentSchema } from './schema.js';
import { FileTooLargeError, readBounded } from '../util/bounded-read.js';
import { MAX_CONFIG_BYTES, parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

export const DEFAULT_CONFIG_PATH = 'config/config.yaml';

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
          ? `No config file at ${shown}. Copy the example from the README or pass --config <file>.`
          : `Cannot read ${shown}: ${(error as Error).message}`,
      ExitCode.usage,
    );
  }
  const { source, issues } = parseYamlSource(shown, text);
  if (!source) throw new ConfigError(shown, issues);
  const parsed = configFileSchema.safeParse(source.value ?? {});
  if (!parsed.success) throw new ConfigError(shown, zodIssues(parsed.error, source, (p) => p));
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
  const override = file.environments[env];
  if (!override) {
    const known = environmentNames(file).join(', ');
    throw new UserError(`No environment "${env}" in ${file.source.file}. Known environments: ${known}.`, ExitCode.usage);
  }
  let merged = deepMerge(file.defaults, override) as Record<string, unknown>;
  let overlay: Record<string, unknown> = {};
  if (merged.localStack === true) {
    const stackValues = options.localStackOverlay?.();
    if (!stackValues) {
      throw new UserError(
        `Environment "${env}" takes its servers, secret and endpoints from the local stack, which is not up. ` +
          'Run: npm run local -- up',
        2,
      );
    }
    overlay = stackValues;
    merged = deepMerge(merged, overlay) as Record<string, unknown>;
  }
  const parsed = environmentSchema.safeParse(merged);
  if (!parsed.success) {
    const origin = (path: PathSegment[]): PathSegment[] => {
      if (hasPath(overlay, path)) return ['(local stack state)', ...path];
      if (hasPath(override, path) || !hasPath(file.defaults, path)) return ['environments', env, ...path];
      return ['defaults', ...path];
    };
    throw new ConfigError(file.source.file, zodIssues(parsed.error, file.source, origin, merged));
  }
  return resolveEnvironment(env, parsed.data);
}

export async function loadConfig(options: LoadOptions & { env: string }): Promise<ResolvedConfig> {
  return resolveConfig(await readConfigFile(options), options.env, options);
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

function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Flattens zod issues into ours: one per problem, with the file path and position. */
function zodIssues(
  error: z.ZodError,
  source: YamlSource,
  origin: (path: PathSegment[]) => PathSegment[],
  data: unknown = source.value,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: PathSegment[], message: string) => {
    const filePath = origin(path);
    const located = filePath[0] === '(local stack state)' ? undefined : source.locate(filePath);
    issues.push({ path: formatPath(filePath), message, ...located });
  };
  for (const issue of error.issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add([...path, key], 'unknown key; remove it or check its spelling');
      continue;
    }
    const found = valueAt(data, path);
    const expected = issue.message.replace(/^Invalid input: /, '');
    const message =
      found === undefined && issue.code === 'invalid_type'
        ? `required: ${expected.replace(/, received undefined$/, '')}`
        : `${expected.replace(/, received \w+$/, '')}; found ${describeFound(found)}`;
    add(path, message);
  }
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path));
}
