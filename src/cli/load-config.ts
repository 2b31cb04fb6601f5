/**
 * How every command loads its config: the config loader plus the running local stack's values
 * for environments that ask for them (`localStack: true`). The one place the CLI wires the stack
 * into the product. The whole file is validated, whichever environment a command works on.
 */
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';
import {
  readConfigFile,
  resolveEveryEnvironment,
  resolveValidated,
  type ConfigFile,
  type LoadOptions,
  type ResolvedFile,
} from '../config/load.js';
import type { ResolvedConfig } from '../config/resolved.js';

const withStack: LoadOptions = { localStackOverlay: () => runningStackOverlay() };

export async function loadCliConfig(configPath: string, env: string): Promise<ResolvedConfig> {
  return resolveValidated(await readConfigFile({ configPath }), env, withStack);
}

export function resolveCliFile(file: ConfigFile): ResolvedFile {
  return resolveEveryEnvironment(file, withStack);
}
