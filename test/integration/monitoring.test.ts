/**
 * The DAG's CloudWatch metrics and failure notices on the local stack: deploy a config with
 * monitoring.metrics and a notice topic, run the DAG once successfully and once failing, then read
 * back from moto what the real Airflow published: the metrics (ListMetrics, GetMetricData) and the
 * notices (an SQS queue subscribed to the SNS topic). The run callbacks execute where Airflow runs
 * them (the DAG processor), so the test polls until they have published.
 */
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { configVariant, requireLocalStack, runDeploy } from './deploy-helpers.js';

const stack = requireLocalStack();
const run = randomBytes(3).toString('hex');
const NAMESPACE = 'GpuCicdIntegration';
// moto matches data by name and dimensions, so this run's Environment keeps its data apart.
const ENVIRONMENT = `it-${run}`;
const SERVER = 'local-gpu';
const aws = { endpoint: stack.endpoints.s3, region: stack.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
const cloudwatch = new CloudWatchClient(aws);
const sns = new SNSClient(aws);
const sqs = new SQSClient(aws);

afterAll(async () => {
  cloudwatch.destroy();
  sns.destroy();
  sqs.destroy();
  // Put the environment back on the standard config for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
});

async function noticeQueue(): Promise<{ topicArn: string; queueUrl: string }> {
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: `gpu-cicd-notices-${run}` }))).TopicArn!;
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `gpu-cicd-notices-${run}` }))).QueueUrl!;
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: attributes.Attributes!.QueueArn! }));
  return { topicArn, queueUrl };
}

type Dimensions = Record<string, string>;

/** This run's metrics: name -> the sorted dimension-name lists it was published with. */
async function listed(): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  let NextToken: string | undefined;
  do {
    const page = await cloudwatch.send(new ListMetricsCommand({ Namespace: NAMESPACE, NextToken }));
    for (const metric of page.Metrics ?? []) {
      const dims = Object.fromEntries((metric.Dimensions ?? []).map((d) => [d.Name!, d.Value!]));
      if (dims.Environment !== ENVIRONMENT) continue;
      const names = Object.keys(dims).sort().join(',');
      // moto may list one series more than once; CloudWatch lists it once.
      const list = found[metric.MetricName!] ?? [];
      found[metric.MetricName!] = list;
      if (!list.includes(names)) list.push(names);
    }
    NextToken = page.NextToken;
  } while (NextToken);
  for (const list of Object.values(found)) list.sort();
  return found;
}

/** The data points (Sum per minute, oldest first) of one series of this run. */
async function values(name: string, dims: Dimensions, stat = 'Sum'): Promise<number[]> {
  const now = Date.now();
  const result = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 30 * 60_000),
      EndTime: new Date(now + 5 * 60_000),
      MetricDataQueries: [
        {
          Id: 'm',
          MetricStat: {
            Metric: {
              Namespace: NAMESPACE,
              MetricName: name,
              Dimensions: Object.entries({ Environment: ENVIRONMENT, ...dims }).map(([Name, Value]) => ({ Name, Value })),
            },
            Period: 3600,
            Stat: stat,
          },
        },
      ],
    }),
  );
  return result.MetricDataResults?.[0]?.Values ?? [];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, seconds = 120): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function drain(queueUrl: string): Promise<Array<{ Subject: string; Message: string }>> {
  const messages: Array<{ Subject: string; Message: string }> = [];
  for (;;) {
    const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (!page.Messages?.length) return messages;
    messages.push(...page.Messages.map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string }));
  }
}

describe('metrics and failure notices on the local stack', () => {
  it('a successful and a failed run publish the four metrics and exactly one notice naming the failed task', async () => {
    const { topicArn, queueUrl } = await noticeQueue();
    const config = configVariant({
      'dag.description': `monitoring integration test ${run}`,
      'monitoring.metrics.namespace': NAMESPACE,
      'monitoring.metrics.dimensions': { Environment: ENVIRONMENT },
      'monitoring.notifyTopicArn': topicArn,
    });

    const ok = await runDeploy(['--env', 'local', '--config', config, '--yes', '--wait', '--json', '--timeout', '8m']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).runState).toBe('success');
    // The success callback runs after the run's end, in the DAG processor.
    await until('RunSucceeded 1', async () => ((await values('RunSucceeded', {})).length > 0 ? true : undefined));
    expect(await values('RunSucceeded', {})).toEqual([1]);
    expect(await drain(queueUrl)).toEqual([]);

    // /proc refuses the workspace: test_ssh_connection succeeds, clone_and_checkout_repo fails on the server.
    const failing = await runDeploy([
      '--env',
      'local',
      '--config',
      config,
      '--yes',
      '--wait',
      '--json',
      '--timeout',
      '8m',
      '--conf',
      'workspace_path=/proc/gpu-cicd-it',
    ]);
    const result = JSON.parse(failing.stdout) as { runState: string; runId: string };
    expect(result.runState, failing.stderr).toBe('failed');
    const notices = await until('the failure notice', async () => {
      const got = await drain(queueUrl);
      return got.length > 0 ? got : undefined;
    });
    // One notice per failed run: nothing else arrives afterwards.
    await new Promise((r) => setTimeout(r, 10_000));
    notices.push(...(await drain(queueUrl)));
    expect(notices).toHaveLength(1);
    const notice = notices[0]!;
    expect(notice.Subject).toBe('Airflow DAG gpu_server_cicd_workflow run failed: 1 failed task(s)');
    expect(notice.Message).toContain(`Run: ${result.runId}`);
    expect(notice.Message).toContain(`- clone_and_checkout_repo (map index 0, server ${SERVER})`);
    // Line 2's stack sets [webserver] base_url; line 3's leaves [api] base_url unset.
    const ui = stack.airflowLine === '2' ? 'http://127\\.0\\.0\\.1:\\d+' : '<Airflow UI>';
    expect(notice.Message).toMatch(new RegExp(`log: ${ui}/dags/gpu_server_cicd_workflow/`));
    expect(notice.Message).toContain(`CloudWatch Logs group airflow-${stack.environmentName}-Task`);
    expect(notice.Message).not.toMatch(/PRIVATE KEY|BEGIN OPENSSH/);

    expect(await values('RunSucceeded', {}, 'SampleCount')).toEqual([2]);
    expect(await values('RunSucceeded', {})).toEqual([1]);
    expect(await listed()).toEqual({
      GitSeconds: ['Environment', 'Environment,Repository,Server'],
      RunSucceeded: ['Environment'],
      SshConnectSeconds: ['Environment', 'Environment,Server'],
      VariablesUpdated: ['Environment', 'Environment,Server'],
    });
    // Two runs connected; one cloned or fetched (config.yaml's git block is the repository named `repo`); one updated Variables.
    expect(await values('SshConnectSeconds', { Server: SERVER }, 'SampleCount')).toEqual([2]);
    expect(await values('GitSeconds', { Server: SERVER, Repository: 'repo' }, 'SampleCount')).toEqual([1]);
    expect(await values('VariablesUpdated', { Server: SERVER }, 'SampleCount')).toEqual([1]);
  }, 900_000);
});
