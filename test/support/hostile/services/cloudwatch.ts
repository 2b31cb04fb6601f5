/**
 * A minimal CloudWatch in the protocol the pinned @aws-sdk/client-cloudwatch speaks: AWS JSON 1.0
 * (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`), query-compatible. Anything else
 * (a client that switched to CBOR, say) is refused, so the harness's self-test notices.
 * With endless pages, DescribeAlarms answers 100 alarms and a new NextToken, whatever token it got.
 */
import type { Reply, Service } from '../http-server.js';
import type { WorldState } from '../state.js';
import { AWS_MODELS } from '../aws-wire.js';

const TARGET = AWS_MODELS.services.cloudWatch.targetPrefix ?? 'GraniteServiceVersion20100801';

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) };
}

export function cloudWatchService(state: WorldState): Service {
  return {
    display: 'CloudWatch',
    aws: 'cloudWatch',
    contentType: 'application/x-amz-json-1.0',
    bodyPrefix: '{"MetricAlarms":[{"AlarmName":"',
    operation(request) {
      const target = String(request.headers['x-amz-target'] ?? '');
      return target.startsWith(`${TARGET}.`) ? target.slice(TARGET.length + 1) : `unknown target ${target}`;
    },
    handle(request, { endlessPages }) {
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.0')) {
        return json(400, { __type: 'SerializationException', message: `expected AWS JSON 1.0, got ${request.headers['content-type']}` });
      }
      const input = JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
      switch (this.operation(request)) {
        case 'DescribeAlarms': {
          const prefix = String(input.AlarmNamePrefix ?? '');
          if (endlessPages) {
            const page = Number(String(input.NextToken ?? 'page-0').slice(5)) + 1;
            const alarms = Array.from({ length: 100 }, (_, i) => endlessAlarm(state, `${prefix}endless-${i}`));
            return json(200, { MetricAlarms: alarms, CompositeAlarms: [], NextToken: `page-${page}` });
          }
          const alarms = [...state.alarms.values()].map((r) => r.alarm).filter((a) => String(a.AlarmName).startsWith(prefix));
          return json(200, { MetricAlarms: alarms, CompositeAlarms: [] });
        }
        case 'ListTagsForResource': {
          const arn = String(input.ResourceARN ?? '');
          const record = [...state.alarms.values()].find((r) => r.alarm.AlarmArn === arn);
          return json(200, { Tags: record?.tags ?? [] });
        }
        case 'PutMetricAlarm': {
          const name = String(input.AlarmName);
          const { Tags, ...alarm } = input;
          const existing = state.alarms.get(name);
          state.alarms.set(name, {
            alarm: { ...alarm, AlarmArn: `arn:aws:cloudwatch:${state.region}:${state.accountId}:alarm:${name}` },
            tags: existing?.tags ?? (Tags as Array<{ Key: string; Value: string }> | undefined) ?? [],
          });
          return json(200, {});
        }
        case 'DeleteAlarms':
          for (const name of (input.AlarmNames as string[] | undefined) ?? []) state.alarms.delete(name);
          return json(200, {});
        default:
          return json(400, { __type: 'UnknownOperationException', message: `the harness does not serve ${this.operation(request)}` });
      }
    },
  };
}

function endlessAlarm(state: WorldState, name: string): Record<string, unknown> {
  return {
    AlarmName: name,
    AlarmArn: `arn:aws:cloudwatch:${state.region}:${state.accountId}:alarm:${name}`,
    Namespace: 'Endless',
    MetricName: 'RunSucceeded',
    Dimensions: [],
    Statistic: 'Minimum',
    Period: 3600,
    EvaluationPeriods: 1,
    Threshold: 1,
    ComparisonOperator: 'LessThanThreshold',
  };
}
