/**
 * The Airflow Variable key that receives `variable` from one server's version file. With one
 * server it is the plain name (`a`); with several, each server gets its own namespace
 * (`gpu-01__a`) so that servers never overwrite each other. The DAG and the runtime check both
 * take keys from here.
 */
export function variableKey(config: { servers: readonly unknown[] }, serverName: string, variable: string): string {
  return config.servers.length > 1 ? `${serverName}__${variable}` : variable;
}
