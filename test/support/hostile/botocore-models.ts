/**
 * What botocore's service models say about the four AWS services the toolkit calls: each
 * service's wire protocol and its modeled error shapes (code on the wire, HTTP status, the casing
 * of the message member). The harness answers in exactly these formats, so the real SDK
 * deserializes its errors as it would AWS's. The table is committed (aws-protocols.json) and an
 * integration test compares it with the botocore installed in the local stack's venvs (or any
 * python3 with botocore); regenerate it with:
 *
 *   npx tsx test/support/hostile/botocore-models.ts > test/support/hostile/aws-protocols.json
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Our name for each remote → botocore's data directory name. */
export const BOTOCORE_SERVICES = {
  s3: 's3',
  mwaa: 'mwaa',
  cloudWatch: 'cloudwatch',
  secretsManager: 'secretsmanager',
} as const;

export type AwsService = keyof typeof BOTOCORE_SERVICES;

export interface ModeledError {
  /** The code on the wire: the shape name, or the `error.code` botocore gives (query-compatible services). */
  code: string;
  /** Absent where botocore gives none (the JSON protocols leave most statuses unmodeled). */
  status?: number;
  /** `Message` or `message`, as the shape spells it; absent when the shape has no message member. */
  messageMember?: 'Message' | 'message';
  senderFault: boolean;
}

export interface ServiceModel {
  apiVersion: string;
  /** botocore's preferred protocol, and every protocol it lists. */
  protocol: string;
  protocols: string[];
  jsonVersion?: string;
  targetPrefix?: string;
  awsQueryCompatible: boolean;
  /** Modeled errors by shape name. */
  errors: Record<string, ModeledError>;
}

export interface AwsProtocols {
  botocore: string;
  services: Record<AwsService, ServiceModel>;
}

/** botocore's `data` directory: the local stack's venvs first, then whatever python3 finds. */
export function findBotocoreData(env: NodeJS.ProcessEnv = process.env, repoRoot = process.cwd()): { data: string; version: string } {
  const venvRoots = [env.MWAA_LOCAL_VENVS, join(repoRoot, '.local-stack', 'venvs')].filter((p): p is string => Boolean(p));
  for (const root of venvRoots) {
    if (!existsSync(root)) continue;
    for (const venv of readdirSync(root)) {
      const lib = join(root, venv, 'lib');
      if (!existsSync(lib)) continue;
      for (const python of readdirSync(lib)) {
        const pkg = join(lib, python, 'site-packages', 'botocore');
        if (existsSync(join(pkg, 'data', 's3'))) return { data: join(pkg, 'data'), version: botocoreVersion(pkg) };
      }
    }
  }
  let out: string;
  try {
    out = execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__)); print(botocore.__version__)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new Error(
      `botocore not found in the local stack's venvs (${venvRoots.join(', ')}) nor for python3: run npm run local -- up, ` +
        `whose venvs bring it (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const [pkg = '', version = ''] = out.trim().split('\n');
  return { data: join(pkg, 'data'), version };
}

function botocoreVersion(pkg: string): string {
  const match = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(join(pkg, '__init__.py'), 'utf8'));
  return match?.[1] ?? 'unknown';
}

interface RawShape {
  exception?: boolean;
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean };
  members?: Record<string, unknown>;
}

function readServiceModel(data: string, name: string): ServiceModel {
  const dir = join(data, name);
  // The newest API version directory (there is one per service we use).
  const version = readdirSync(dir).sort().at(-1);
  if (!version) throw new Error(`no API version under ${dir}`);
  const gz = join(dir, version, 'service-2.json.gz');
  const raw = existsSync(gz) ? gunzipSync(readFileSync(gz)).toString('utf8') : readFileSync(join(dir, version, 'service-2.json'), 'utf8');
  const model = JSON.parse(raw) as {
    metadata: Record<string, unknown>;
    shapes: Record<string, RawShape>;
  };
  const md = model.metadata;
  const errors: Record<string, ModeledError> = {};
  for (const [shape, body] of Object.entries(model.shapes).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!body.exception) continue;
    const members = Object.keys(body.members ?? {});
    const messageMember = members.includes('Message') ? 'Message' : members.includes('message') ? 'message' : undefined;
    errors[shape] = {
      code: body.error?.code ?? shape,
      ...(body.error?.httpStatusCode ? { status: body.error.httpStatusCode } : {}),
      ...(messageMember ? { messageMember } : {}),
      senderFault: body.error?.senderFault === true,
    };
  }
  const out: ServiceModel = {
    apiVersion: String(md.apiVersion),
    protocol: String(md.protocol),
    protocols: (md.protocols as string[] | undefined) ?? [String(md.protocol)],
    awsQueryCompatible: md.awsQueryCompatible !== undefined,
    errors,
  };
  if (typeof md.jsonVersion === 'string') out.jsonVersion = md.jsonVersion;
  if (typeof md.targetPrefix === 'string') out.targetPrefix = md.targetPrefix;
  return out;
}

export function readAwsProtocols(found: { data: string; version: string }): AwsProtocols {
  const services = Object.fromEntries(
    Object.entries(BOTOCORE_SERVICES).map(([ours, theirs]) => [ours, readServiceModel(found.data, theirs)]),
  ) as Record<AwsService, ServiceModel>;
  return { botocore: found.version, services };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(readAwsProtocols(findBotocoreData()), null, 2)}\n`);
}
