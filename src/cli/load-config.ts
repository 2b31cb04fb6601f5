/**
 * How every command loads its config: the config loader plus the running local stack's values
 * for environments that ask for them (`localStack: true`). The one place the CLI wires the stack
 * into the product.
 */
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';
import { loadConfig, resolveConfig, type ConfigFile, type LoadOptions } from '../config/load.js';
import type { ResolvedConfig } from '../config/resolved.js';

const withStack: LoadOptions = { localStackOverlay: () => runningStackOverlay() };

export function loadCliConfig(configPath: string, env: string): Promise<ResolvedConfig> {
  return loadConfig({ ...withStack, configPath, env });
}

/** True when a local stack is up (its state file exists). */
export function localStackIsUp(): boolean {
  return runningStackOverlay() !== undefined;
}

export function resolveCliConfig(file: ConfigFile, env: string): ResolvedConfig {
  return resolveConfig(file, env, withStack);
}
