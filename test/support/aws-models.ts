/**
 * What botocore's service models say about the AWS calls the product makes: each service's
 * protocol and, per operation, its HTTP binding and the error shapes it declares; plus botocore's
 * own lists of the codes its retry handler treats as throttling or transient. Extracted once into
 * test/fixtures/aws-error-models.json (scripts/write-aws-error-models.ts) so that unit tests walk
 * them without Python; a test on the local stack's venv checks the fixture against botocore.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const AWS_MODELS_FIXTURE = join(repoRoot, 'test/fixtures/aws-error-models.json');

/** The SDK packages we call, their botocore model and the name our messages give the service. */
export const SDK_PACKAGES = {
  '@aws-sdk/client-s3': { model: 's3', service: 'S3' },
  '@aws-sdk/client-mwaa': { model: 'mwaa', service: 'MWAA' },
  '@aws-sdk/client-secrets-manager': { model: 'secretsmanager', service: 'Secrets Manager' },
  '@aws-sdk/client-cloudwatch': { model: 'cloudwatch', service: 'CloudWatch' },
} as const;
export type ServiceName = (typeof SDK_PACKAGES)[keyof typeof SDK_PACKAGES]['service'];

export interface ModelError {
  /** The shape name (the SDK's error name). */
  shape: string;
  /** The code on the wire: `error.code` for query-compatible services, else the shape name. */
  code: string;
  status: number;
  fault: 'client' | 'server';
  /** The member that carries the message (`message` or `Message`), if the shape has one. */
  messageMember?: string;
}

export interface ModelOperation {
  method: string;
  requestUri: string;
  /** Headers the input requires (to tell PutObject from CopyObject, say). */
  requiredHeaders: string[];
  errors: ModelError[];
}

export interface ModelService {
  model: string;
  apiVersion: string;
  /** The protocols botocore lists, preferred first. */
  protocols: string[];
  targetPrefix?: string;
  jsonVersion?: string;
  awsQueryCompatible: boolean;
  operations: Record<string, ModelOperation>;
}

export interface AwsErrorModels {
  botocore: string;
  services: Record<ServiceName, ModelService>;
  /** botocore.retries.standard: codes retried as throttling, codes and statuses retried as transient. */
  retry: { throttling: string[]; transient: string[]; transientStatus: number[] };
}

/** `new XCommand(` in src/, per SDK package imported by that file: the operations the product calls. */
export function operationsWeCall(root: string = repoRoot): Record<ServiceName, string[]> {
  const out = Object.fromEntries(Object.values(SDK_PACKAGES).map((p) => [p.service, new Set<string>()])) as Record<
    ServiceName,
    Set<string>
  >;
  const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [pkg, { service }] of Object.entries(SDK_PACKAGES)) {
      const imported = new RegExp(`import\\s*\\{([^}]*)\\}\\s*from\\s*'${pkg.replace(/[/-]/g, '\\$&')}'`).exec(text);
      if (!imported) continue;
      const names = imported[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, ''));
      for (const name of names) {
        if (name.endsWith('Command') && new RegExp(`new ${name}\\(`).test(text)) out[service].add(name.slice(0, -'Command'.length));
      }
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()])) as unknown as Record<ServiceName, string[]>;
}

/** botocore's package directories in the local stack's venvs (MWAA_LOCAL_VENVS or .local-stack/venvs). */
export function botocoreDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const venvs = env.MWAA_LOCAL_VENVS ? resolve(env.MWAA_LOCAL_VENVS) : join(env.MWAA_LOCAL_HOME ?? join(repoRoot, '.local-stack'), 'venvs');
  if (!existsSync(venvs)) return [];
  const dirs: string[] = [];
  for (const venv of readdirSync(venvs)) {
    const lib = join(venvs, venv, 'lib');
    if (!existsSync(lib)) continue;
    for (const python of readdirSync(lib)) {
      const dir = join(lib, python, 'site-packages', 'botocore');
      if (existsSync(join(dir, 'data'))) dirs.push(dir);
    }
  }
  return dirs.sort();
}

function readModel(botocore: string, model: string): { apiVersion: string; json: Record<string, unknown> } {
  const base = join(botocore, 'data', model);
  const apiVersion = readdirSync(base).sort().at(-1)!;
  const dir = join(base, apiVersion);
  const gz = join(dir, 'service-2.json.gz');
  const text = existsSync(gz) ? gunzipSync(readFileSync(gz)).toString('utf8') : readFileSync(join(dir, 'service-2.json'), 'utf8');
  return { apiVersion, json: JSON.parse(text) as Record<string, unknown> };
}

interface Shape {
  type?: string;
  members?: Record<string, { shape: string; location?: string; locationName?: string }>;
  required?: string[];
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean };
  fault?: boolean;
}

/** Reads the models and retry lists from `botocore` (a site-packages/botocore directory), with `python` for the lists. */
export function extractAwsErrorModels(botocore: string, python: string): AwsErrorModels {
  const calls = operationsWeCall();
  const services = {} as Record<ServiceName, ModelService>;
  for (const { model, service } of Object.values(SDK_PACKAGES)) {
    const { apiVersion, json } = readModel(botocore, model);
    const metadata = json.metadata as Record<string, unknown>;
    const shapes = json.shapes as Record<string, Shape>;
    const operations = json.operations as Record<
      string,
      { http: { method: string; requestUri: string }; input?: { shape: string }; errors?: Array<{ shape: string }> }
    >;
    const queryCompatible = metadata.awsQueryCompatible !== undefined;
    const out: ModelService = {
      model,
      apiVersion,
      protocols: (metadata.protocols as string[] | undefined) ?? [metadata.protocol as string],
      awsQueryCompatible: queryCompatible,
      operations: {},
    };
    if (typeof metadata.targetPrefix === 'string') out.targetPrefix = metadata.targetPrefix;
    if (typeof metadata.jsonVersion === 'string') out.jsonVersion = metadata.jsonVersion;
    for (const name of calls[service]) {
      const op = operations[name];
      if (!op) throw new Error(`botocore's ${model} model has no operation ${name}`);
      const input = op.input ? shapes[op.input.shape] : undefined;
      const requiredHeaders = (input?.required ?? [])
        .map((member) => input?.members?.[member])
        .filter((m) => m?.location === 'header')
        .map((m) => m!.locationName!.toLowerCase());
      const errors: ModelError[] = (op.errors ?? []).map(({ shape }) => {
        const s = shapes[shape]!;
        const messageMember = Object.keys(s.members ?? {}).find((m) => m.toLowerCase() === 'message');
        const error: ModelError = {
          shape,
          code: (queryCompatible && s.error?.code) || shape,
          // Without a status in the model, AWS answers 400 for a sender fault (JSON 1.1 services).
          status: s.error?.httpStatusCode ?? (s.fault ? 500 : 400),
          fault: s.fault || (s.error?.httpStatusCode ?? 400) >= 500 ? 'server' : 'client',
        };
        if (messageMember) error.messageMember = messageMember;
        return error;
      });
      out.operations[name] = { method: op.http.method, requestUri: op.http.requestUri, requiredHeaders, errors };
    }
    services[service] = out;
  }
  const script =
    'import json, botocore\n' +
    'from botocore.retries.standard import ThrottledRetryableChecker as T, TransientRetryableChecker as R\n' +
    'print(json.dumps({"version": botocore.__version__, "throttling": T._THROTTLED_ERROR_CODES,' +
    ' "transient": R._TRANSIENT_ERROR_CODES, "transientStatus": R._TRANSIENT_STATUS_CODES}))';
  const lists = JSON.parse(
    execFileSync(python, ['-c', script], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(botocore, '..') } }),
  ) as { version: string; throttling: string[]; transient: string[]; transientStatus: number[] };
  return {
    botocore: lists.version,
    services,
    retry: { throttling: lists.throttling, transient: lists.transient, transientStatus: lists.transientStatus },
  };
}

/** The python of the venv a botocore directory belongs to. */
export function venvPython(botocore: string): string {
  const venv = resolve(botocore, '../../../..');
  return join(venv, 'bin', 'python');
}

export function readAwsErrorModels(): AwsErrorModels {
  return JSON.parse(readFileSync(AWS_MODELS_FIXTURE, 'utf8')) as AwsErrorModels;
}

export function serializeAwsErrorModels(models: AwsErrorModels): string {
  return `${JSON.stringify(models, null, 2)}\n`;
}
