/**
 * The config every other module works with: one environment, every default applied, and the
 * values MWAA derives (Python version, Airflow line) made explicit.
 */
import { airflowLine, MWAA_AIRFLOW_VERSIONS, type AirflowLine, type PythonVersion } from '../mwaa/versions.js';
import { repositoriesOf, type ResolvedRepository } from './repositories.js';
import type { EnvironmentConfig, GpuExpectation } from './schema.js';

export type { ResolvedRepository } from './repositories.js';

export interface ResolvedServer {
  name: string;
  host: string;
  port: number;
  user: string;
  workspacePath: string;
  hostPublicKey: string | null;
  /** What its GPUs must be (the server's own gpus, else the environment's); null: not checked. */
  gpus: GpuExpectation | null;
}

export interface ResolvedConfig extends Omit<EnvironmentConfig, 'airflow' | 'servers' | 'git' | 'repositories' | 'gpus'> {
  envName: string;
  airflow: { version: EnvironmentConfig['airflow']['version']; pythonVersion: PythonVersion; line: AirflowLine };
  servers: ResolvedServer[];
  /** Every repository, the `git` shorthand included (one list, see repositories.ts). */
  repositories: ResolvedRepository[];
}

export function resolveEnvironment(envName: string, env: EnvironmentConfig): ResolvedConfig {
  const { airflow, servers, git: _git, repositories: _repositories, gpus, ...rest } = env;
  return {
    envName,
    ...rest,
    airflow: {
      version: airflow.version,
      pythonVersion: airflow.pythonVersion ?? MWAA_AIRFLOW_VERSIONS[airflow.version],
      line: airflowLine(airflow.version),
    },
    servers: servers.map((server) => ({
      name: server.name,
      host: server.host,
      port: server.port ?? env.ssh.port,
      user: server.user ?? env.ssh.user,
      workspacePath: server.workspacePath,
      hostPublicKey: server.hostPublicKey,
      gpus: server.gpus === undefined ? gpus : server.gpus,
    })),
    repositories: repositoriesOf(env),
  };
}
