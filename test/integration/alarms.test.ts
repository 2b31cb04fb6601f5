/**
 * The CloudWatch alarms `deploy` manages, against the local stack's moto CloudWatch: two alarms
 * created and read back field by field, a second deploy that plans no alarm change, a threshold
 * changed (one update), an alarm removed (deleted), the last one removed (deleted too), and an alarm
 * deploy did not create, under the environment's name prefix, left alone throughout.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  type MetricAlarm,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudWatchClient } from '../../src/mwaa/clients.js';
import { configVariant, requireLocalStack, runDeploy } from './deploy-helpers.js';

const stack = requireLocalStack();
// moto serves CloudWatch at the same URL as S3.
const cloudWatch = createCloudWatchClient({ endpoint: stack.endpoints.s3, region: stack.region, localStack: true });
const run = randomUUID().slice(0, 8);
const deployments = `deployments-alarms-${run}`;
const TOPIC = `arn:aws:sns:${stack.region}:123456789012:gpu-cicd-alerts-${run}`;
const PREFIX = `${stack.environmentName}-`;
const HANDMADE = `${PREFIX}handmade-${run}`;

const SSH_SLOW = {
  name: 'ssh-slow',
  metric: 'SshConnectSeconds',
  statistic: 'Maximum',
  comparison: 'GreaterThanThreshold',
  threshold: 30,
  evaluationPeriods: 2,
};
const RUN_FAILED = {
  name: 'run-failed',
  metric: 'RunSucceeded',
  statistic: 'Minimum',
  comparison: 'LessThanThreshold',
  threshold: 1,
  periodSeconds: 3600,
  treatMissingData: 'ignore',
  description: `A run failed (${run})`,
};

/** The local environment with monitoring on and these alarms, on this file's own deploy records. */
function config(alarms: object[]): string {
  return configVariant({
    'mwaa.deploymentsPrefix': deployments,
    'dag.description': `alarms test ${run}`,
    monitoring: { metrics: { namespace: 'GpuCicd', dimensions: { Stage: 'it', Environment: 'local' } }, alarms, notifyTopicArn: TOPIC },
  });
}

async function deployOk(configPath: string): Promise<string> {
  const out = await runDeploy(['--env', 'local', '--config', configPath, '--yes', '--no-trigger']);
  if (out.code !== 0) throw new Error(`deploy failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  // The plan on stdout, progress (what was done) on stderr.
  return `${out.stdout}\n${out.stderr}`;
}

/** The alarm actions of `deploy --plan --json` that change something. */
async function alarmChanges(configPath: string): Promise<Array<{ type: string; name: string; differences?: string[] }>> {
  const out = await runDeploy(['--env', 'local', '--config', configPath, '--plan', '--json']);
  const doc = JSON.parse(out.stdout) as { plan: { actions: Array<{ type: string; name: string; differences?: string[] }> } };
  return doc.plan.actions
    .filter((a) => a.type === 'put-alarm' || a.type === 'delete-alarm')
    .map(({ type, name, differences }) => ({ type, name, ...(differences ? { differences } : {}) }));
}

async function alarms(): Promise<Map<string, MetricAlarm>> {
  const out = await cloudWatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: PREFIX }));
  return new Map((out.MetricAlarms ?? []).map((alarm) => [alarm.AlarmName ?? '', alarm]));
}

/** What deploy should have written, as DescribeAlarms shows it. */
function definition(alarm: MetricAlarm) {
  return {
    Namespace: alarm.Namespace,
    MetricName: alarm.MetricName,
    Dimensions: [...(alarm.Dimensions ?? [])].sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? '')),
    Statistic: alarm.Statistic,
    Period: alarm.Period,
    EvaluationPeriods: alarm.EvaluationPeriods,
    Threshold: alarm.Threshold,
    ComparisonOperator: alarm.ComparisonOperator,
    TreatMissingData: alarm.TreatMissingData,
    AlarmDescription: alarm.AlarmDescription,
    AlarmActions: alarm.AlarmActions,
    OKActions: alarm.OKActions ?? [],
  };
}

const DIMENSIONS = [
  { Name: 'Environment', Value: 'local' },
  { Name: 'Stage', Value: 'it' },
];

beforeAll(async () => {
  // A clean start: no alarms of this environment left by an earlier run that stopped half-way.
  const leftovers = [...(await alarms()).keys()];
  if (leftovers.length > 0) await cloudWatch.send(new DeleteAlarmsCommand({ AlarmNames: leftovers }));
  // An alarm someone made by hand under the environment's prefix: deploy must never touch it.
  await cloudWatch.send(
    new PutMetricAlarmCommand({
      AlarmName: HANDMADE,
      Namespace: 'GpuCicd',
      MetricName: 'GitSeconds',
      Statistic: 'Average',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 100,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
});

afterAll(async () => {
  await cloudWatch.send(new DeleteAlarmsCommand({ AlarmNames: [HANDMADE] }));
  // The standard config's artifacts back in place for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  cloudWatch.destroy();
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
});

describe('deploy manages CloudWatch alarms', () => {
  it('creates two alarms as configured, tagged with their environment', async () => {
    const two = config([SSH_SLOW, RUN_FAILED]);
    const planned = await runDeploy(['--env', 'local', '--config', two, '--plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(3);
    expect(planned.stdout).toMatch(
      new RegExp(`put-alarm +${PREFIX}ssh-slow +new: Maximum SshConnectSeconds > 30 for 2 × 300 s, notifies ${TOPIC}\\n`),
    );
    expect(planned.stdout).toMatch(new RegExp(`put-alarm +${PREFIX}run-failed +new: Minimum RunSucceeded < 1 for 1 × 3600 s`));

    const out = await deployOk(two);
    expect(out).toContain(`alarm ${PREFIX}ssh-slow created (PutMetricAlarm)`);
    const found = await alarms();
    expect(definition(found.get(`${PREFIX}ssh-slow`)!)).toEqual({
      Namespace: 'GpuCicd',
      MetricName: 'SshConnectSeconds',
      Dimensions: DIMENSIONS,
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 2,
      Threshold: 30,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: `Seconds to open the SSH connection of test_ssh_connection (mwaa-gpu-cicd deploy of ${stack.environmentName})`,
      AlarmActions: [TOPIC],
      OKActions: [],
    });
    expect(definition(found.get(`${PREFIX}run-failed`)!)).toEqual({
      Namespace: 'GpuCicd',
      MetricName: 'RunSucceeded',
      Dimensions: DIMENSIONS,
      Statistic: 'Minimum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'ignore',
      AlarmDescription: `A run failed (${run})`,
      AlarmActions: [TOPIC],
      OKActions: [],
    });
    const tags = await cloudWatch.send(new ListTagsForResourceCommand({ ResourceARN: found.get(`${PREFIX}run-failed`)!.AlarmArn }));
    expect(tags.Tags).toEqual([{ Key: 'mwaa-gpu-cicd:environment', Value: stack.environmentName }]);
  });

  it('plans no alarm change for the same config (text and --json), and a second deploy changes nothing', async () => {
    const two = config([SSH_SLOW, RUN_FAILED]);
    const planned = await runDeploy(['--env', 'local', '--config', two, '--plan', '--detailed-exitcode']);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(new RegExp(`skip +${PREFIX}ssh-slow +alarm unchanged`));
    expect(planned.stdout).toMatch(/No changes: the environment already runs exactly this\.\n$/);
    const json = await runDeploy(['--env', 'local', '--config', two, '--plan', '--json']);
    const doc = JSON.parse(json.stdout) as { changes: number; plan: { actions: Array<{ type: string; name?: string }> } };
    expect(doc.changes).toBe(0);
    expect(doc.plan.actions.filter((a) => a.type.endsWith('alarm'))).toEqual([
      { type: 'skip-alarm', name: `${PREFIX}ssh-slow` },
      { type: 'skip-alarm', name: `${PREFIX}run-failed` },
    ]);
    const before = await alarms();
    const out = await deployOk(two);
    expect(out).not.toContain('PutMetricAlarm');
    const after = await alarms();
    expect(after.get(`${PREFIX}ssh-slow`)?.AlarmConfigurationUpdatedTimestamp).toEqual(
      before.get(`${PREFIX}ssh-slow`)?.AlarmConfigurationUpdatedTimestamp,
    );
  });

  it('a changed threshold is one update, shown field by field', async () => {
    const changed = config([{ ...SSH_SLOW, threshold: 45 }, RUN_FAILED]);
    const planned = await runDeploy(['--env', 'local', '--config', changed, '--plan', '--detailed-exitcode']);
    expect(planned.code).toBe(3);
    expect(planned.stdout).toMatch(new RegExp(`put-alarm +${PREFIX}ssh-slow +changed: threshold 30 → 45\\n`));
    // The config's hash is in the DAG and its copy, so they change too; of the alarms, one.
    expect(await alarmChanges(changed)).toEqual([{ type: 'put-alarm', name: `${PREFIX}ssh-slow`, differences: ['threshold 30 → 45'] }]);
    const markdown = await runDeploy(['--env', 'local', '--config', changed, '--plan', '--format', 'markdown']);
    expect(markdown.stdout).toContain(`| put-alarm | \`${PREFIX}ssh-slow\` | changed: threshold 30 → 45 |`);
    const out = await deployOk(changed);
    expect(out).toContain(`alarm ${PREFIX}ssh-slow updated (PutMetricAlarm)`);
    expect(out).not.toContain(`alarm ${PREFIX}run-failed`);
    const found = await alarms();
    expect(found.get(`${PREFIX}ssh-slow`)?.Threshold).toBe(45);
    expect(definition(found.get(`${PREFIX}run-failed`)!).Threshold).toBe(1);
  });

  it('an alarm removed from the config is deleted; the last one too; a hand-made alarm stays', async () => {
    const one = config([{ ...SSH_SLOW, threshold: 45 }]);
    const planned = await runDeploy(['--env', 'local', '--config', one, '--plan', '--detailed-exitcode']);
    expect(planned.code).toBe(3);
    expect(planned.stdout).toMatch(new RegExp(`del-alarm +${PREFIX}run-failed +ours, no longer in monitoring\\.alarms\\n`));
    expect(planned.stdout).not.toContain(HANDMADE);
    expect(await alarmChanges(one)).toEqual([{ type: 'delete-alarm', name: `${PREFIX}run-failed` }]);
    expect(await deployOk(one)).toContain(`alarm ${PREFIX}run-failed deleted`);
    expect([...(await alarms()).keys()].sort()).toEqual([HANDMADE, `${PREFIX}ssh-slow`].sort());

    expect(await deployOk(config([]))).toContain(`alarm ${PREFIX}ssh-slow deleted`);
    expect([...(await alarms()).keys()]).toEqual([HANDMADE]);
  });
});
