/**
 * The one naming rule of the Airflow Variables the DAG writes; the generator (which hands the
 * names to the DAG as literals) and the runtime check both take keys from here.
 *
 * The key is the configured variable, prefixed with `<server>__` when there are several servers
 * and with `<repository>__` when several repositories name a version file:
 * `a`, `gpu-01__a`, `etl__a`, `gpu-01__etl__a`. With one server and one version file the names
 * are the plain ones, whether the config uses the `git` shorthand or a `repositories` list.
 */
export const VARIABLE_SEPARATOR = '__';

export interface VariableScope {
  servers: readonly unknown[];
  repositories: readonly { versionFile: unknown }[];
}

export function variableKey(scope: VariableScope, serverName: string, repositoryName: string, variable: string): string {
  const parts: string[] = [];
  if (scope.servers.length > 1) parts.push(serverName);
  if (scope.repositories.filter((repository) => repository.versionFile !== null).length > 1) parts.push(repositoryName);
  return [...parts, variable].join(VARIABLE_SEPARATOR);
}
