import type { LocalStackState } from '../local/state.js';

/**
 * The values an environment with `localStack: true` takes from the running local stack. They are
 * merged over the file's values before validation, so they are checked like everything else.
 */
export function localStackOverlay(state: LocalStackState): Record<string, unknown> {
  return {
    airflow: { version: state.airflowVersion },
    mwaa: { environmentName: state.environmentName, region: state.region, bucket: state.bucket, webserverScheme: 'http' },
    aws: {
      endpoints: { s3: state.endpoints.s3, secretsManager: state.endpoints.secretsManager, mwaa: state.endpoints.mwaa },
    },
    ssh: { user: state.ssh.user, hostKeyPolicy: 'strict' },
    secrets: { sshKeyArn: state.secretArn },
    servers: [
      {
        name: 'local-gpu',
        host: state.ssh.host,
        port: state.ssh.port,
        user: state.ssh.user,
        workspacePath: state.workspace,
        hostPublicKey: state.ssh.hostPublicKey,
      },
    ],
    git: { repoUrl: state.git.remoteUrl, branch: state.git.branch },
  };
}
