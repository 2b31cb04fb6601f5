/**
 * What an environment with `localStack: true` takes from the running local stack. The config
 * loader knows nothing of the stack: the CLI hands it `runningStackOverlay` as its overlay source,
 * and the values are merged over the file's before validation, so they are checked like the rest.
 */
import { LOCAL_ACCOUNT_ID } from './layout.js';
import { readStateIfPresent, stackRoot, type LocalStackState } from './state.js';

export function localStackOverlay(state: LocalStackState): Record<string, unknown> {
  return {
    airflow: { version: state.airflowVersion },
    mwaa: {
      environmentName: state.environmentName,
      region: state.region,
      accountId: LOCAL_ACCOUNT_ID,
      bucket: state.bucket,
      // The web server shares the API's endpoint, and so its scheme (https once `up` made the CA).
      webserverScheme: state.endpoints.mwaa.startsWith('https:') ? 'https' : 'http',
    },
    aws: {
      // moto serves CloudWatch and STS at the same URL as S3 and Secrets Manager.
      endpoints: {
        s3: state.endpoints.s3,
        secretsManager: state.endpoints.secretsManager,
        mwaa: state.endpoints.mwaa,
        cloudWatch: state.endpoints.s3,
        sts: state.endpoints.s3,
      },
      ...(state.tls ? { caBundle: state.tls.caCert } : {}),
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

/** The overlay of the stack at `$MWAA_LOCAL_HOME` (or `<cwd>/.local-stack`); undefined when it is not up. */
export function runningStackOverlay(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Record<string, unknown> | undefined {
  const state = readStateIfPresent(stackRoot(env, cwd));
  return state ? localStackOverlay(state) : undefined;
}
