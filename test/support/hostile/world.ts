/**
 * One hostile world: every remote the toolkit talks to, on 127.0.0.1 (S3, MWAA, CloudWatch,
 * Secrets Manager, the MWAA web server, a GPU server over SSH), each well-behaved except the one
 * told to misbehave, and a config file whose environment points at them. The well-behaved remotes
 * hold what each command needs to get as far as the hostile one: the bucket pins the plugins and
 * requirements the config generates (so deploy needs no environment update), the DAG carries the
 * config's marker, deploy records to roll back to, the key secret, a checkout and version file
 * matching the Airflow Variables.
 *
 *   const world = await startWorld({ hostile: { remote: 'mwaa', behaviour: 'never-answer' } });
 *   // node dist/cli.js deploy --env hostile --config world.configPath --plan
 *   await world.close();
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../../src/api.js';
import { dagBuildTag } from '../../../src/generator/artifact.js';
import { type HttpBehaviour, HostileHttpServer, type Service } from './http-server.js';
import { cloudWatchService } from './services/cloudwatch.js';
import { mwaaService } from './services/mwaa.js';
import { s3Service } from './services/s3.js';
import { secretsManagerService } from './services/secrets-manager.js';
import { webServerService } from './services/web-server.js';
import { generateEd25519, HostileSshServer, type SshBehaviour } from './ssh-server.js';
import { putVersion, type WorldState } from './state.js';

export const HTTP_REMOTES = ['s3', 'mwaa', 'cloudWatch', 'secretsManager', 'webServer'] as const;
export type HttpRemote = (typeof HTTP_REMOTES)[number];
export type Remote = HttpRemote | 'ssh';

/** How the error message names each remote (the message contract). */
export const REMOTE_DISPLAY: Record<Remote, string> = {
  s3: 'S3',
  mwaa: 'MWAA',
  cloudWatch: 'CloudWatch',
  secretsManager: 'Secrets Manager',
  webServer: 'Airflow web server',
  ssh: 'SSH',
};

export interface WorldSpec {
  line?: '2' | '3';
  hostile?: { remote: Remote; behaviour: string; only?: string[] };
  /** How the triggered run ends (default success). */
  runState?: 'success' | 'failed';
  /** A failed task's log this many bytes long (its last lines are the world's log). */
  logBytes?: number;
  /** Config `ssh:` settings (the matrix shortens the SSH bounds). */
  ssh?: Record<string, number>;
  /** Extra YAML lines appended to the environment (indented by the caller). */
  extraConfig?: string;
  /** GetEnvironment's WebserverAccessMode (default: not given). */
  webserverAccessMode?: string;
}

export const ENV_NAME = 'hostile';
const ENVIRONMENT_NAME = 'hostile-env';
const BUCKET = 'airflow-hostile';
const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:gpu-server-ssh-key-Ab12Cd`;
const VERSION_YAML = 'a: "1.2.3"\n';
const COMMIT = 'c0ffee0000000000000000000000000000000001';

export interface World {
  readonly dir: string;
  readonly configPath: string;
  readonly env: string;
  readonly state: WorldState;
  readonly servers: Record<HttpRemote, HostileHttpServer>;
  readonly ssh: HostileSshServer;
  /** `host:port` of each remote, as messages should name it. */
  readonly hostPorts: Record<Remote, string>;
  close(): Promise<void>;
}

export function newState(line: '2' | '3'): WorldState {
  return {
    region: REGION,
    accountId: ACCOUNT,
    environmentName: ENVIRONMENT_NAME,
    bucket: BUCKET,
    airflowVersion: line === '2' ? '2.11.2' : '3.3.1',
    line,
    dagsPrefix: 'dags',
    objects: new Map(),
    environment: {
      status: 'AVAILABLE',
      pins: { plugins: undefined, requirements: undefined, startup: undefined },
      lastUpdateAt: new Date(Date.now() - 86_400_000),
      updatingPolls: 0,
    },
    alarms: new Map(),
    secret: { arn: SECRET_ARN, value: '' },
    airflow: {
      dagId: 'gpu_server_cicd_workflow',
      tags: [],
      runState: 'success',
      failedTask: 'clone_and_checkout_repo',
      variables: { a: '1.2.3' },
      runs: [],
      logPaddingBytes: 0,
      log: Array.from({ length: 60 }, (_, i) => `[2025-01-01T00:00:${String(i).padStart(2, '0')}Z] INFO - line ${i}`).join('\n'),
    },
    checkout: { user: 'ubuntu', commit: COMMIT, branch: 'main', versionYaml: VERSION_YAML },
  };
}

function configYaml(world: { state: WorldState; urls: Record<HttpRemote, string>; sshPort: number; hostKey: string }, spec: WorldSpec) {
  const { state, urls } = world;
  const ssh = { connectTimeoutSeconds: 10, commandTimeoutSeconds: 600, keepaliveSeconds: 30, connectRetries: 3, ...spec.ssh };
  // The web server's scheme is the config's (its host comes from MWAA): https only to meet a TLS stall.
  const webScheme = spec.hostile?.remote === 'webServer' && spec.hostile.behaviour === 'tls-stall' ? 'https' : 'http';
  return [
    'environments:',
    `  ${ENV_NAME}:`,
    `    airflow: { version: "${state.airflowVersion}" }`,
    `    mwaa: { environmentName: ${state.environmentName}, region: ${state.region}, accountId: "${state.accountId}", bucket: ${state.bucket}, webserverScheme: ${webScheme} }`,
    `    aws: { endpoints: { s3: "${urls.s3}", mwaa: "${urls.mwaa}", secretsManager: "${urls.secretsManager}", cloudWatch: "${urls.cloudWatch}" } }`,
    `    secrets: { sshKeyArn: "${state.secret.arn}" }`,
    `    ssh: { ${Object.entries(ssh)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} }`,
    '    git: { repoUrl: "git@github.com:example-org/cicd-test.git", branch: main, checkoutDir: cicd-test }',
    '    versionFile: { path: www/version.yaml, variables: [ { key: a, variable: a } ] }',
    '    monitoring:',
    '      metrics: { namespace: GpuCicd, dimensions: { Environment: hostile } }',
    '      alarms:',
    '        - { name: run-failed, metric: RunSucceeded, statistic: Minimum, comparison: LessThanThreshold, threshold: 1, periodSeconds: 3600 }',
    '    servers:',
    `      - { name: gpu-1, host: 127.0.0.1, port: ${world.sshPort}, workspacePath: /home/ubuntu/workspace, hostPublicKey: "${world.hostKey}" }`,
    spec.extraConfig ?? '',
    '',
  ].join('\n');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * What the bucket and the environment hold before the command runs: the generated plugins and
 * requirements, pinned; and two deploy records (an older DAG and config, then the current ones
 * that differ from what the config generates), so that `--rollback` has somewhere to go.
 */
async function seed(state: WorldState, configPath: string, dir: string): Promise<void> {
  const [generated] = await generate({ env: ENV_NAME, config: configPath, cwd: dir, write: false });
  if (!generated) throw new Error('the world config generated nothing');
  state.airflow.tags = [dagBuildTag(generated.manifest)];
  const bytesOf = (path: string) => {
    const file = generated.files.find((f) => f.path === path);
    if (!file) throw new Error(`generate wrote no ${path}`);
    return file.bytes;
  };
  const objectsNow: Array<Record<string, unknown>> = [];
  const objectsBefore: Array<Record<string, unknown>> = [];
  for (const entry of generated.manifest.artifacts) {
    if (!entry.s3Key) continue;
    const pinned = entry.kind === 'plugins' || entry.kind === 'requirements';
    const deployed = (bytes: Buffer) => {
      const version = putVersion(state, entry.s3Key as string, bytes, { metadata: { sha256: sha256(bytes) } });
      return {
        kind: entry.kind,
        path: entry.path,
        key: entry.s3Key,
        sha256: sha256(bytes),
        size: bytes.length,
        versionId: version.versionId,
      };
    };
    if (pinned) {
      const object = deployed(Buffer.from(bytesOf(entry.path)));
      state.environment.pins[entry.kind as 'plugins' | 'requirements'] = { path: entry.s3Key, version: object.versionId };
      objectsBefore.push(object);
      objectsNow.push(object);
    } else {
      objectsBefore.push(deployed(Buffer.from(`# an earlier ${entry.path}\n`)));
      objectsNow.push(deployed(Buffer.from(`# the ${entry.path} deployed last\n`)));
    }
  }
  const record = (at: string, objects: Array<Record<string, unknown>>) => ({
    formatVersion: 1,
    kind: 'deploy',
    environment: ENV_NAME,
    environmentName: state.environmentName,
    at,
    who: { user: 'harness', host: 'harness' },
    objects,
    pins: {
      plugins: state.environment.pins.plugins,
      requirements: state.environment.pins.requirements,
    },
  });
  for (const [at, objects] of [
    ['2025-01-01T00:00:00.000Z', objectsBefore],
    ['2025-01-02T00:00:00.000Z', objectsNow],
  ] as const) {
    const body = Buffer.from(`${JSON.stringify(record(at, objects), null, 2)}\n`);
    putVersion(state, `deployments/records/${at.replace(/:/g, '-')}-${sha256(body).slice(0, 12)}.json`, body, {
      contentType: 'application/json',
    });
  }
}

export async function startWorld(spec: WorldSpec = {}): Promise<World> {
  const line = spec.line ?? '2';
  const state = newState(line);
  if (spec.runState) state.airflow.runState = spec.runState;
  if (spec.webserverAccessMode) state.environment.webserverAccessMode = spec.webserverAccessMode;
  if (spec.logBytes) state.airflow.logPaddingBytes = Math.max(0, spec.logBytes - state.airflow.log.length);
  const clientKey = generateEd25519();
  state.secret.value = clientKey.private;
  const hostKey = generateEd25519();
  const dir = mkdtempSync(join(tmpdir(), 'hostile-world-'));

  let web: HostileHttpServer | undefined;
  const services: Record<HttpRemote, Service> = {
    s3: s3Service(state),
    mwaa: mwaaService(state, () => web?.hostPort ?? ''),
    cloudWatch: cloudWatchService(state),
    secretsManager: secretsManagerService(state),
    webServer: webServerService(state),
  };
  const hostile = spec.hostile;
  const servers = Object.fromEntries(
    Object.entries(services).map(([name, service]) => [
      name,
      new HostileHttpServer(
        service,
        hostile && hostile.remote === name
          ? { behaviour: hostile.behaviour as HttpBehaviour, ...(hostile.only ? { only: hostile.only } : {}) }
          : { behaviour: 'ok' },
      ),
    ]),
  ) as Record<HttpRemote, HostileHttpServer>;
  web = servers.webServer;
  const ssh = new HostileSshServer(state, hostKey, hostile?.remote === 'ssh' ? (hostile.behaviour as SshBehaviour) : 'ok');
  await Promise.all([...Object.values(servers).map((s) => s.listen()), ssh.listen()]);

  const urls = Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, s.url])) as Record<HttpRemote, string>;
  const configPath = join(dir, 'config.yaml');
  // Seeding runs against a well-behaved copy of the config: the hostile endpoint's scheme may be https.
  writeFileSync(configPath, configYaml({ state, urls, sshPort: ssh.portNumber, hostKey: hostKey.public }, spec));
  await seed(state, configPath, dir);

  const hostPorts = {
    ...(Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, s.hostPort])) as Record<HttpRemote, string>),
    ssh: `127.0.0.1:${ssh.portNumber}`,
  };
  return {
    dir,
    configPath,
    env: ENV_NAME,
    state,
    servers,
    ssh,
    hostPorts,
    async close() {
      await Promise.all([...Object.values(servers).map((s) => s.close()), ssh.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
