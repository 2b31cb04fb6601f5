/**
 * A minimal MWAA API (REST-JSON, as @aws-sdk/client-mwaa sends it with disableHostPrefix): one
 * environment, AVAILABLE; UpdateEnvironment moves it through UPDATING for one poll; the CLI and
 * web login tokens name the world's web server as WebServerHostname.
 */
import type { Reply, Service } from '../http-server.js';
import type { WorldState } from '../state.js';

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function notFound(name: string): Reply {
  return {
    status: 404,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' },
    body: JSON.stringify({ message: `Environment ${name} not found` }),
  };
}

const PIN_FIELDS = {
  plugins: ['PluginsS3Path', 'PluginsS3ObjectVersion'],
  requirements: ['RequirementsS3Path', 'RequirementsS3ObjectVersion'],
  startup: ['StartupScriptS3Path', 'StartupScriptS3ObjectVersion'],
} as const;

/**
 * The environment's AirflowConfigurationOptions: Airflow's intervals for a changed DAG at 1 s (as
 * a user may set them), so that a deploy waits seconds for the new DAG, not a minute.
 */
export const WORLD_AIRFLOW_OPTIONS: Record<string, string> = {
  'core.min_serialized_dag_fetch_interval': '1',
  'core.min_serialized_dag_update_interval': '1',
  'scheduler.min_file_process_interval': '1',
};

export function mwaaService(state: WorldState, webServerHostname: () => string): Service {
  const environment = () => {
    const env = state.environment;
    const out: Record<string, unknown> = {
      Name: state.environmentName,
      Arn: `arn:aws:airflow:${state.region}:${state.accountId}:environment/${state.environmentName}`,
      Status: env.status,
      AirflowVersion: state.airflowVersion,
      SourceBucketArn: `arn:aws:s3:::${state.bucket}`,
      DagS3Path: state.dagsPrefix,
      WebserverUrl: webServerHostname(),
      AirflowConfigurationOptions: WORLD_AIRFLOW_OPTIONS,
      LoggingConfiguration: {
        TaskLogs: {
          Enabled: true,
          LogLevel: 'INFO',
          CloudWatchLogGroupArn: `arn:aws:logs:${state.region}:${state.accountId}:log-group:airflow-${state.environmentName}-Task`,
        },
      },
      LastUpdate: { Status: 'SUCCESS', CreatedAt: state.environment.lastUpdateAt.getTime() / 1000 },
      ...(env.webserverAccessMode ? { WebserverAccessMode: env.webserverAccessMode } : {}),
    };
    for (const [kind, [pathField, versionField]] of Object.entries(PIN_FIELDS)) {
      const pin = env.pins[kind as keyof typeof PIN_FIELDS];
      if (pin) {
        out[pathField] = pin.path;
        out[versionField] = pin.version;
      }
    }
    return out;
  };
  return {
    display: 'MWAA',
    aws: 'mwaa',
    contentType: 'application/json',
    bodyPrefix: '{"Environment":{"Name":"',
    operation(request) {
      const [, root] = request.path.split('/');
      if (root === 'environments') return request.method === 'PATCH' ? 'UpdateEnvironment' : 'GetEnvironment';
      if (root === 'clitoken') return 'CreateCliToken';
      if (root === 'webtoken') return 'CreateWebLoginToken';
      return `${request.method} ${request.path}`;
    },
    handle(request) {
      const name = decodeURIComponent(request.path.split('/')[2] ?? '');
      if (name !== state.environmentName) return notFound(name);
      switch (this.operation(request)) {
        case 'GetEnvironment': {
          const answer = json(200, { Environment: environment() });
          if (state.environment.status === 'UPDATING') {
            state.environment.updatingPolls -= 1;
            if (state.environment.updatingPolls <= 0) state.environment.status = 'AVAILABLE';
          }
          return answer;
        }
        case 'UpdateEnvironment': {
          const input = JSON.parse(request.body.toString('utf8') || '{}') as Record<string, string>;
          for (const [kind, [pathField, versionField]] of Object.entries(PIN_FIELDS)) {
            if (input[versionField]) {
              state.environment.pins[kind as keyof typeof PIN_FIELDS] = {
                path: input[pathField] ?? state.environment.pins[kind as keyof typeof PIN_FIELDS]?.path ?? '',
                version: input[versionField],
              };
            }
          }
          state.environment.status = 'UPDATING';
          state.environment.updatingPolls = 1;
          state.environment.lastUpdateAt = new Date();
          return json(200, { Arn: environment().Arn });
        }
        case 'CreateCliToken':
          return json(200, { CliToken: 'harness-cli-token', WebServerHostname: webServerHostname() });
        case 'CreateWebLoginToken':
          return json(200, {
            WebToken: 'harness-web-token',
            WebServerHostname: webServerHostname(),
            IamIdentity: `arn:aws:iam::${state.accountId}:user/harness`,
            AirflowIdentity: 'harness',
          });
        default:
          return json(404, { message: `the harness does not serve ${request.method} ${request.path}` });
      }
    },
  };
}
