/**
 * The planning role's policy (iam/plan-policy.json) allows every AWS call a real plan makes, and
 * nothing else is needed: each request the SDK clients send during `plan` (with the content diff,
 * and a rollback plan) against the local stack is recorded, turned into the IAM action and
 * resource AWS authorises it as (the "Permissions" section of each API's reference: HeadObject
 * and GetObject are s3:GetObject, with a versionId s3:GetObjectVersion; ListObjectsV2 is
 * s3:ListBucket on the bucket), and checked against the generated policy's statements.
 */
import { describe, expect, it } from 'vitest';
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';
import { generate, loadConfig, plan, UserError } from '../../src/api.js';
import { createAwsClients } from '../../src/mwaa/clients.js';
import { requireStack } from '../support/stack.js';

interface Call {
  command: string;
  input: Record<string, unknown>;
}

type Handler = (args: { input: unknown }) => Promise<unknown>;
interface RecordingStack {
  add(middleware: (next: Handler, context: { commandName?: string }) => Handler, options: { step: 'initialize'; name: string }): void;
}

interface Statement {
  Action: string[];
  Resource: string[];
}

/** The IAM action and resource of one request, as AWS documents them; an unknown call fails the test. */
function authorisation(call: Call, arn: { environment: string }): { action: string; resource: string } {
  const { Bucket, Key, VersionId } = call.input as { Bucket?: string; Key?: string; VersionId?: string };
  switch (call.command) {
    case 'HeadObjectCommand':
    case 'GetObjectCommand':
      return { action: VersionId ? 's3:GetObjectVersion' : 's3:GetObject', resource: `arn:aws:s3:::${Bucket}/${Key}` };
    case 'ListObjectsV2Command':
      return { action: 's3:ListBucket', resource: `arn:aws:s3:::${Bucket}` };
    case 'GetBucketVersioningCommand':
      return { action: 's3:GetBucketVersioning', resource: `arn:aws:s3:::${Bucket}` };
    case 'GetEnvironmentCommand':
      return { action: 'airflow:GetEnvironment', resource: arn.environment };
    case 'DescribeAlarmsCommand':
      return { action: 'cloudwatch:DescribeAlarms', resource: '*' };
    default:
      throw new Error(`a plan sent ${call.command}: add its IAM action to this test and, if it is a read a plan needs, to PLAN_READS`);
  }
}

/** IAM's resource match: `*` any run of characters, `?` one. */
function matches(pattern: string, resource: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(resource);
}

describe('the plan role', () => {
  it('allows every call a plan, its diff and a rollback plan make against the local stack', async () => {
    requireStack();
    const localStackOverlay = () => runningStackOverlay();
    const config = await loadConfig({ env: 'local', localStackOverlay });
    const clients = createAwsClients(config);
    const calls: Call[] = [];
    for (const client of [clients.s3, clients.mwaa, clients.cloudWatch, clients.secretsManager]) {
      // One middleware for four clients: typed by what it uses, not by each client's command union.
      (client.middlewareStack as unknown as RecordingStack).add(
        (next, context) => async (args) => {
          calls.push({ command: String(context.commandName), input: args.input as Record<string, unknown> });
          return next(args);
        },
        { step: 'initialize', name: 'recordCallsForPlanPolicy' },
      );
    }
    const planned = await plan({ env: 'local', diff: true, clients, localStackOverlay });
    expect(planned.refused).toBe(false);
    try {
      await plan({ env: 'local', rollback: true, diff: true, clients, localStackOverlay });
    } catch (error) {
      // No earlier deploy to go back to on a fresh stack: the records were still listed and read.
      if (!(error instanceof UserError) || !/Nothing to roll back to/.test(error.message)) throw error;
    }

    const [rendered] = await generate({ env: 'local', write: false, localStackOverlay });
    const policy = JSON.parse(rendered!.files.find((f) => f.path === 'iam/plan-policy.json')!.bytes.toString()) as {
      Statement: Statement[];
    };
    const { region, accountId, environmentName } = config.mwaa;
    const arn = { environment: `arn:aws:airflow:${region}:${accountId ?? '000000000000'}:environment/${environmentName}` };
    const needed = calls.map((call) => ({ call: call.command, ...authorisation(call, arn) }));
    const denied = needed.filter(
      ({ action, resource }) => !policy.Statement.some((s) => s.Action.includes(action) && s.Resource.some((r) => matches(r, resource))),
    );
    expect(denied).toEqual([]);
    // The plan read the environment, the bucket's versioning and listing, and objects: the policy
    // was tested on each kind of read it grants for this config (no alarms, no KMS here).
    expect([...new Set(needed.map((n) => n.action))].sort()).toEqual(
      expect.arrayContaining(['airflow:GetEnvironment', 's3:GetBucketVersioning', 's3:GetObject', 's3:ListBucket']),
    );
    // And the policy grants nothing the plan did not need, but the version reads a pinned object or a rollback's copy take.
    const granted = new Set(policy.Statement.flatMap((s) => s.Action));
    for (const action of granted) expect(['s3:GetObjectVersion', ...needed.map((n) => n.action)], action).toContain(action);
  }, 600_000);
});
