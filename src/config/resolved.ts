/**
 * The config every other module works with: one environment, every default applied, and the
 * values MWAA derives (Python version, Airflow line) made explicit.
 */
import { airflowLine, MWAA_AIRFLOW_VERSIONS, type AirflowLine, type PythonVersion } from '../mwaa/versions.js';
import { repositoriesOf, type ResolvedRepository } from './repositories.js';
import type { EnvironmentConfig } from './schema.js';

export type { ResolvedRepository } from './repositories.js';

export interface ResolvedServer {
  name: string;
  host: string;
  port: number;
  user: string;
  workspacePath: string;
  hostPublicKey: string | null;
}

export interface ResolvedConfig extends Omit<EnvironmentConfig, 'airflow' | 'servers' | 'git' | 'repositories'> {
  envName: string;
  airflow: { version: EnvironmentConfig['airflow']['version']; pythonVersion: PythonVersion; line: AirflowLine };
  servers: ResolvedServer[];
  /** Every repository, the `git` shorthand included (one list, see repositories.ts). */
  repositories: ResolvedRepository[];
}

export function resolveEnvironment(envName: string, env: EnvironmentConfig): ResolvedConfig {
  const { airflow, servers, git: _git, repositories: _repositories, ...rest } = env;
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
    })),
    repositories: repositoriesOf(env),
  };
}
