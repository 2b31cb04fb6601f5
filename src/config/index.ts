export { loadConfig, readConfigFile, resolveConfig, environmentNames, usesLocalStack, DEFAULT_CONFIG_PATH } from './load.js';
export type { ConfigFile, LoadOptions } from './load.js';
export type { ResolvedConfig, ResolvedServer, AirflowLine } from './resolved.js';
export { variableKey } from './variables.js';
