import { describe, expect, it } from 'vitest';
import { alarmTargets, type AlarmTargets } from '../../../src/deployer/alarms.js';
import { deploy, type DeploySettings } from '../../../src/deployer/deploy.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { formatPlan, planJson, planMarkdown } from '../../../src/deployer/format.js';
import { alarmActions, plan, type RemoteState } from '../../../src/deployer/plan.js';
import { monitoringSchema } from '../../../src/config/schema.js';
import { DeployProgress, withProgress } from '../../../src/deployer/done-so-far.js';
import { RemoteError } from '../../../src/errors.js';
import { explainRemoteError } from '../../../src/mwaa/aws-errors.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { FakeClock, FakeCloudWatch, FakeMwaa, FakeS3 } from './fakes.js';
import { OPTIONS, SETTINGS, targets } from './helpers.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:gpu-cicd-alerts';

const SSH_SLOW = { name: 'ssh-slow', metric: 'SshConnectSeconds', statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: 30 };
const RUN_FAILED = {
  name: 'run-failed',
  metric: 'RunSucceeded',
  statistic: 'Minimum',
  comparison: 'LessThanThreshold',
  threshold: 1,
  periodSeconds: 3600,
  treatMissingData: 'ignore',
  description: 'A run of the GPU CI/CD DAG failed',
};

/** The environment env-x's alarms from a monitoring section as a user writes it. */
function alarmsOf(alarms: object[], extra: Record<string, unknown> = {}): AlarmTargets {
  const monitoring = monitoringSchema.parse({
    metrics: { namespace: 'GpuCicd', dimensions: { Stage: 'test', Environment: 'env-x' } },
    alarms,
    notifyTopicArn: TOPIC,
    ...extra,
  });
  const targets = alarmTargets({ monitoring, mwaa: { environmentName: 'env-x' } });
  if (!targets) throw new Error('monitoring is on');
  return targets;
}

const REMOTE: RemoteState = {
  environment: { name: 'env-x', status: 'AVAILABLE', airflowVersion: '2.10.3', bucket: 'airflow-test', dagS3Path: 'dags', pins: {} },
  versioning: 'Enabled',
  current: {},
  pinned: {},
};

async function remoteWith(cloudWatch: FakeCloudWatch): Promise<RemoteState> {
  return { ...REMOTE, alarms: await cloudWatch.describeAlarms('env-x-') };
}

/** Puts what a plan's put-alarm actions say, with the owner tag deploy uses. */
async function applyPuts(cloudWatch: FakeCloudWatch, targets: AlarmTargets): Promise<void> {
  for (const alarm of targets.alarms) await cloudWatch.putAlarm(alarm, { 'mwaa-gpu-cicd:environment': 'env-x' });
}

describe('alarm definitions from the config', () => {
  it('are named <environment>-<name> and watch the environment-wide series (configured dimensions, sorted)', () => {
    const { alarms, prefix } = alarmsOf([SSH_SLOW, RUN_FAILED]);
    expect(prefix).toBe('env-x-');
    expect(alarms[0]).toEqual({
      name: 'env-x-ssh-slow',
      namespace: 'GpuCicd',
      metricName: 'SshConnectSeconds',
      dimensions: [
        { name: 'Environment', value: 'env-x' },
        { name: 'Stage', value: 'test' },
      ],
      statistic: 'Maximum',
      periodSeconds: 300,
      evaluationPeriods: 1,
      threshold: 30,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      description: 'Seconds to open the SSH connection of test_ssh_connection (mwaa-gpu-cicd deploy of env-x)',
      alarmActions: [TOPIC],
      okActions: [],
      insufficientDataActions: [],
      actionsEnabled: true,
    });
    expect(alarms[1]).toMatchObject({ name: 'env-x-run-failed', periodSeconds: 3600, treatMissingData: 'ignore' });
    expect(alarms[1]?.description).toBe('A run of the GPU CI/CD DAG failed');
  });

  it('notify nobody without a topic, and do not exist while monitoring is off', () => {
    expect(alarmsOf([SSH_SLOW], { notifyTopicArn: null }).alarms[0]?.alarmActions).toEqual([]);
    expect(alarmTargets({ monitoring: monitoringSchema.parse({}), mwaa: { environmentName: 'env-x' } })).toBeUndefined();
  });
});

describe('plan with alarms', () => {
  it('creates missing alarms after the artifacts, and counts them as changes', async () => {
    const wanted = alarmsOf([SSH_SLOW, RUN_FAILED]);
    const p = plan(SETTINGS, [], await remoteWith(new FakeCloudWatch()), wanted);
    expect(p.actions.map((a) => a.type)).toEqual(['put-alarm', 'put-alarm']);
    expect(p.actions[0]).toMatchObject({ type: 'put-alarm', reason: 'new', alarm: { name: 'env-x-ssh-slow' } });
    expect(p.changes).toBe(2);
    // With artifacts too, alarms come last.
    const withArtifacts = plan(SETTINGS, targets(), await remoteWith(new FakeCloudWatch()), wanted);
    expect(withArtifacts.actions.slice(-2).map((a) => a.type)).toEqual(['put-alarm', 'put-alarm']);
    expect(withArtifacts.actions.slice(0, -2).every((a) => !a.type.endsWith('alarm'))).toBe(true);
  });

  it('plans nothing when every alarm already matches', async () => {
    const wanted = alarmsOf([SSH_SLOW, RUN_FAILED]);
    const cloudWatch = new FakeCloudWatch();
    await applyPuts(cloudWatch, wanted);
    const p = plan(SETTINGS, [], await remoteWith(cloudWatch), wanted);
    expect(p.actions).toEqual([
      { type: 'skip-alarm', name: 'env-x-ssh-slow' },
      { type: 'skip-alarm', name: 'env-x-run-failed' },
    ]);
    expect(p.changes).toBe(0);
  });

  it('updates an alarm that differs, naming each field that differs', async () => {
    const cloudWatch = new FakeCloudWatch();
    await applyPuts(cloudWatch, alarmsOf([SSH_SLOW, RUN_FAILED]));
    const wanted = alarmsOf([{ ...SSH_SLOW, threshold: 60, evaluationPeriods: 3 }, RUN_FAILED], {
      metrics: { namespace: 'GpuCicd', dimensions: { Stage: 'test', Environment: 'env-x' } },
    });
    const p = plan(SETTINGS, [], await remoteWith(cloudWatch), wanted);
    expect(p.changes).toBe(1);
    expect(p.actions[0]).toMatchObject({
      type: 'put-alarm',
      reason: 'changed',
      differences: ['evaluation periods 1 → 3', 'threshold 30 → 60'],
    });
    expect(p.actions[1]).toEqual({ type: 'skip-alarm', name: 'env-x-run-failed' });
  });

  it('notices a change made outside deploy, e.g. an action added by hand or a dimension', async () => {
    const wanted = alarmsOf([SSH_SLOW]);
    const cloudWatch = new FakeCloudWatch();
    const edited = structuredClone(wanted.alarms[0]!);
    edited.okActions = [TOPIC];
    edited.dimensions = [{ name: 'Environment', value: 'env-x' }];
    await cloudWatch.putAlarm(edited, { 'mwaa-gpu-cicd:environment': 'env-x' });
    const p = plan(SETTINGS, [], await remoteWith(cloudWatch), wanted);
    expect(p.actions[0]).toMatchObject({
      type: 'put-alarm',
      differences: [`dimensions [Environment=env-x] → [Environment=env-x, Stage=test]`, `OK actions [${TOPIC}] → []`],
    });
  });

  it('deletes an alarm of ours that left the config, never one of another environment sharing the prefix', async () => {
    const cloudWatch = new FakeCloudWatch();
    await applyPuts(cloudWatch, alarmsOf([SSH_SLOW, RUN_FAILED]));
    // Environment env-x-prod's alarm: its name starts with env-x- as well.
    const other = { ...alarmsOf([SSH_SLOW]).alarms[0]!, name: 'env-x-prod-ssh-slow' };
    await cloudWatch.putAlarm(other, { 'mwaa-gpu-cicd:environment': 'env-x-prod' });
    const p = plan(SETTINGS, [], await remoteWith(cloudWatch), alarmsOf([SSH_SLOW]));
    expect(p.actions).toEqual([
      { type: 'skip-alarm', name: 'env-x-ssh-slow' },
      { type: 'delete-alarm', name: 'env-x-run-failed' },
    ]);
    expect(p.changes).toBe(1);
    // The last alarm removed: monitoring on, no alarms configured.
    expect(alarmActions(plan(SETTINGS, [], await remoteWith(cloudWatch), alarmsOf([])).actions)).toEqual([
      { type: 'delete-alarm', name: 'env-x-run-failed' },
      { type: 'delete-alarm', name: 'env-x-ssh-slow' },
    ]);
  });

  it('refuses to overwrite an alarm of the configured name that deploy did not create', async () => {
    const cloudWatch = new FakeCloudWatch();
    await cloudWatch.putAlarm({ ...alarmsOf([SSH_SLOW]).alarms[0]!, threshold: 5 }, {});
    const p = plan(SETTINGS, [], await remoteWith(cloudWatch), alarmsOf([SSH_SLOW]));
    expect(p.refusals).toEqual([
      {
        code: 'alarm-owner',
        message: expect.stringMatching(
          /^CloudWatch alarm env-x-ssh-slow exists but deploy did not create it for env-x \(it has no mwaa-gpu-cicd:environment tag\).*aws cloudwatch delete-alarms --alarm-names env-x-ssh-slow$/,
        ),
      },
    ]);
    expect(alarmActions(p.actions)).toEqual([]);
  });
});

describe('plan output with alarms', () => {
  it('text, Markdown and JSON show alarm changes like other changes', async () => {
    const cloudWatch = new FakeCloudWatch();
    await applyPuts(cloudWatch, alarmsOf([SSH_SLOW, RUN_FAILED]));
    const p = plan(
      SETTINGS,
      [],
      await remoteWith(cloudWatch),
      alarmsOf([
        { ...SSH_SLOW, threshold: 60 },
        { ...SSH_SLOW, name: 'ssh-slower' },
      ]),
    );
    expect(formatPlan(p, 'env-x')).toBe(
      [
        'Plan for env-x:',
        '  put-alarm  env-x-ssh-slow    changed: threshold 30 → 60',
        `  put-alarm  env-x-ssh-slower  new: Maximum SshConnectSeconds > 30 for 1 × 300 s, notifies ${TOPIC}`,
        '  del-alarm  env-x-run-failed  ours, no longer in monitoring.alarms',
        '3 changes.',
        '',
      ].join('\n'),
    );
    const markdown = planMarkdown(p, 'env-x', 'local');
    expect(markdown).toContain('| put-alarm | `env-x-ssh-slow` | changed: threshold 30 → 60 |');
    expect(markdown).toContain('| del-alarm | `env-x-run-failed` | ours, no longer in monitoring.alarms |');
    const json = planJson(p) as { changes: number; actions: Array<Record<string, unknown>> };
    expect(json.changes).toBe(3);
    expect(json.actions[0]).toMatchObject({
      type: 'put-alarm',
      name: 'env-x-ssh-slow',
      reason: 'changed',
      differences: ['threshold 30 → 60'],
      alarm: { threshold: 60, alarmActions: [TOPIC] },
    });
    expect(json.actions[2]).toEqual({ type: 'delete-alarm', name: 'env-x-run-failed' });
  });
});

describe('deploy with alarms', () => {
  function world(alarms: AlarmTargets) {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    const mwaa = new FakeMwaa(clock, { name: 'env-x' });
    const cloudWatch = new FakeCloudWatch();
    const cli = new FakeAirflow('2').cli();
    const log: string[] = [];
    s3.beforeWrite = (key) => log.push(`write ${key}`);
    const events: DeployEvent[] = [];
    const deps = {
      s3,
      mwaa,
      cloudWatch,
      cli,
      airflow: airflowApi({ version: '2.11.2', cli }),
      clock,
      emit: (e: DeployEvent) => {
        if (e.type === 'alarm-put' || e.type === 'alarm-deleted') log.push(`${e.type} ${e.name}`);
        events.push(e);
      },
      who: { user: 'tester', host: 'box', pid: 42 },
    };
    const settings = (a: AlarmTargets): DeploySettings => ({
      ...SETTINGS,
      envName: 'local',
      deploymentsPrefix: 'deployments',
      dagId: 'gpu_server_cicd_workflow',
      airflowLine: '2',
      alarms: a,
    });
    const run = (a: AlarmTargets = alarms) => deploy(settings(a), targets(), OPTIONS, deps);
    return { s3, cloudWatch, log, events, run };
  }

  it('writes the alarms after the artifacts and the record; a second deploy changes nothing; a removed alarm goes', async () => {
    const w = world(alarmsOf([SSH_SLOW, RUN_FAILED]));
    const first = await w.run();
    const recordAt = w.log.findIndex((line) => line.startsWith('write deployments/records/'));
    expect(recordAt).toBeGreaterThan(0);
    expect(w.log.slice(recordAt + 1)).toEqual(['alarm-put env-x-ssh-slow', 'alarm-put env-x-run-failed']);
    expect(first.alarms).toEqual({ put: ['env-x-ssh-slow', 'env-x-run-failed'], deleted: [] });
    expect(w.cloudWatch.alarms.get('env-x-run-failed')?.tags).toEqual({ 'mwaa-gpu-cicd:environment': 'env-x' });

    const second = await w.run();
    expect(second.plan.changes).toBe(0);
    expect(w.cloudWatch.calls.filter((c) => !c.startsWith('describe'))).toEqual(['put env-x-ssh-slow', 'put env-x-run-failed']);

    const third = await w.run(alarmsOf([SSH_SLOW]));
    expect(third.plan.changes).toBe(1);
    expect(third.alarms).toEqual({ put: [], deleted: ['env-x-run-failed'] });
    expect([...w.cloudWatch.alarms.keys()]).toEqual(['env-x-ssh-slow']);
  });

  it('a denied PutMetricAlarm fails naming the alarm and the IAM actions, with the artifacts deployed and recorded', async () => {
    const w = world(alarmsOf([SSH_SLOW, RUN_FAILED]));
    w.cloudWatch.denied.add('env-x-run-failed');
    const error = await w.run().catch((e: unknown) => e);
    // What the deploy workflow says about it: the call, what to attach, what was done, what a rerun does.
    const progress = new DeployProgress();
    for (const event of w.events) progress.observe(event);
    const explained = withProgress(explainRemoteError(error, { envName: 'local', localStack: false }), progress, 'airflow-b');
    expect(explained).toBeInstanceOf(RemoteError);
    const lines = (explained as Error).message.split('\n');
    expect(lines[0]).toBe(
      'CloudWatch PutMetricAlarm at monitoring.us-east-1.amazonaws.com failed: AccessDenied: User is not authorized to perform: cloudwatch:PutMetricAlarm on env-x-run-failed',
    );
    expect(lines[1]).toBe(
      'The credentials in use may not call cloudwatch:PutMetricAlarm (and cloudwatch:TagResource for a new alarm) on alarm env-x-run-failed: ' +
        'attach dist-artifacts/local/iam/deploy-role-policy.json to the role or user that runs this (run generate first if it is not there; see docs/MWAA_SETUP.md).',
    );
    expect(lines[2]).toMatch(
      /^Done before the failure: uploaded s3:\/\/airflow-b\/.*; the deploy record s3:\/\/airflow-b\/deployments\/records\/.* was written; alarms written: env-x-ssh-slow; the deploy lock was released\.$/,
    );
    expect(lines[3]).toMatch(/^Deploy again: it plans from what is there now and uploads only what differs/);
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');
    expect(w.log.some((line) => line.startsWith('write deployments/records/'))).toBe(true);
    // The lock is released; once allowed, the next deploy puts only what is missing.
    w.cloudWatch.denied.clear();
    const again = await w.run();
    expect(again.plan.changes).toBe(1);
    expect(again.alarms).toEqual({ put: ['env-x-run-failed'], deleted: [] });
  });
});
