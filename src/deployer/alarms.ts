/**
 * The alarms half of a plan, pure: from monitoring.alarms the exact definitions deploy writes with
 * PutMetricAlarm, and against the alarms CloudWatch holds the actions that make them so: put-alarm
 * (create, or update with the fields that differ), delete-alarm (ours, no longer configured), or
 * nothing when every field already matches, so a second deploy of the same config plans no change.
 *
 * Which alarms are ours: DescribeAlarms lists those named `<environment name>-*`, and of those deploy
 * touches only the ones whose ALARM_OWNER_TAG names this environment (set when deploy creates them).
 * A configured name held by an alarm without that tag is refused, never overwritten.
 */
import { ALARM_OWNER_TAG, alarmName, DAG_METRICS } from '../config/metrics.js';
import type { ResolvedConfig } from '../config/resolved.js';
import type { Refusal } from './plan.js';
import type { AlarmDefinition, RemoteAlarm } from './ports.js';

/** What deploy manages in CloudWatch for one environment. */
export interface AlarmTargets {
  environmentName: string;
  /** Every alarm deploy makes for the environment is named with this prefix. */
  prefix: string;
  alarms: AlarmDefinition[];
}

export type AlarmAction =
  | { type: 'put-alarm'; alarm: AlarmDefinition; reason: 'new' | 'changed'; differences: string[] }
  | { type: 'delete-alarm'; name: string }
  | { type: 'skip-alarm'; name: string };

type AlarmConfig = Pick<ResolvedConfig, 'monitoring'> & { mwaa: Pick<ResolvedConfig['mwaa'], 'environmentName'> };

/**
 * The alarms of an environment, or undefined when monitoring is off (no metrics namespace): then
 * deploy reads and writes no alarm at all. With a namespace and no alarms, deploy still looks, so
 * the last alarm removed from the config is deleted too.
 */
export function alarmTargets(config: AlarmConfig): AlarmTargets | undefined {
  const { namespace, dimensions } = config.monitoring.metrics;
  if (namespace === null) return undefined;
  const environmentName = config.mwaa.environmentName;
  const topic = config.monitoring.notifyTopicArn;
  // The environment-wide series: the configured dimensions only (src/config/metrics.ts).
  const seriesDimensions = Object.entries(dimensions)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const alarms = config.monitoring.alarms.map(
    (alarm): AlarmDefinition => ({
      name: alarmName(environmentName, alarm.name),
      namespace,
      metricName: alarm.metric,
      dimensions: seriesDimensions,
      statistic: alarm.statistic,
      periodSeconds: alarm.periodSeconds,
      evaluationPeriods: alarm.evaluationPeriods,
      threshold: alarm.threshold,
      comparison: alarm.comparison,
      treatMissingData: alarm.treatMissingData,
      description: alarm.description ?? `${DAG_METRICS[alarm.metric].description} (mwaa-gpu-cicd deploy of ${environmentName})`,
      alarmActions: topic ? [topic] : [],
      okActions: [],
      insufficientDataActions: [],
      actionsEnabled: true,
    }),
  );
  return { environmentName, prefix: alarmName(environmentName, ''), alarms };
}

/** The tags deploy creates an alarm with. */
export function ownerTags(targets: AlarmTargets): Record<string, string> {
  return { [ALARM_OWNER_TAG]: targets.environmentName };
}

/** Every field PutMetricAlarm sets, with its name in the plan. */
const COMPARED: ReadonlyArray<readonly [keyof AlarmDefinition, string]> = [
  ['namespace', 'namespace'],
  ['metricName', 'metric'],
  ['dimensions', 'dimensions'],
  ['statistic', 'statistic'],
  ['extendedStatistic', 'extended statistic'],
  ['unit', 'unit'],
  ['periodSeconds', 'period'],
  ['evaluationPeriods', 'evaluation periods'],
  ['datapointsToAlarm', 'datapoints to alarm'],
  ['comparison', 'comparison'],
  ['threshold', 'threshold'],
  ['treatMissingData', 'missing data'],
  ['description', 'description'],
  ['alarmActions', 'alarm actions'],
  ['okActions', 'OK actions'],
  ['insufficientDataActions', 'insufficient-data actions'],
  ['actionsEnabled', 'actions enabled'],
];

function shown(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (Array.isArray(value)) {
    return `[${value.map((v) => (typeof v === 'object' && v !== null && 'name' in v ? `${v.name}=${v.value}` : String(v))).join(', ')}]`;
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** What differs between the definition deploy writes and the alarm in CloudWatch: "field old → new". */
export function alarmDifferences(desired: AlarmDefinition, actual: AlarmDefinition): string[] {
  const out: string[] = [];
  for (const [field, label] of COMPARED) {
    const want = desired[field];
    const have = actual[field];
    if (JSON.stringify(want) !== JSON.stringify(have)) out.push(`${label} ${shown(have)} → ${shown(want)}`);
  }
  return out;
}

function ownerRefusal(targets: AlarmTargets, alarm: RemoteAlarm): Refusal {
  const tag = alarm.owner === undefined ? 'has no' : `names ${JSON.stringify(alarm.owner)} in its`;
  return {
    code: 'alarm-owner',
    message:
      `CloudWatch alarm ${alarm.name} exists but deploy did not create it for ${targets.environmentName} ` +
      `(it ${tag} ${ALARM_OWNER_TAG} tag), so deploy will not overwrite it. Rename the alarm in monitoring.alarms, ` +
      `or delete the existing one if nobody needs it: aws cloudwatch delete-alarms --alarm-names ${alarm.name}`,
  };
}

/** Puts in config order, then deletes by name; refusals for configured names held by others' alarms. */
export function planAlarms(targets: AlarmTargets, remote: readonly RemoteAlarm[]): { actions: AlarmAction[]; refusals: Refusal[] } {
  const actions: AlarmAction[] = [];
  const refusals: Refusal[] = [];
  const byName = new Map(remote.map((alarm) => [alarm.name, alarm]));
  for (const alarm of targets.alarms) {
    const existing = byName.get(alarm.name);
    if (!existing) {
      actions.push({ type: 'put-alarm', alarm, reason: 'new', differences: [] });
    } else if (existing.owner !== targets.environmentName) {
      refusals.push(ownerRefusal(targets, existing));
    } else {
      const differences = alarmDifferences(alarm, existing);
      actions.push(
        differences.length === 0 ? { type: 'skip-alarm', name: alarm.name } : { type: 'put-alarm', alarm, reason: 'changed', differences },
      );
    }
  }
  const configured = new Set(targets.alarms.map((alarm) => alarm.name));
  const removed = remote
    .filter((alarm) => alarm.owner === targets.environmentName && !configured.has(alarm.name))
    .map((alarm) => alarm.name)
    .sort();
  for (const name of removed) actions.push({ type: 'delete-alarm', name });
  return { actions, refusals };
}

const COMPARISON_SYMBOLS: Record<string, string> = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '>=',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '<=',
};

/** One line for a plan: "Maximum SshConnectSeconds > 30 for 1 × 300 s → topic". */
export function alarmSummary(alarm: AlarmDefinition): string {
  const op = COMPARISON_SYMBOLS[alarm.comparison] ?? alarm.comparison;
  const notify = alarm.alarmActions.length > 0 ? `, notifies ${alarm.alarmActions.join(', ')}` : ', notifies nobody';
  return `${alarm.statistic} ${alarm.metricName} ${op} ${alarm.threshold} for ${alarm.evaluationPeriods} × ${alarm.periodSeconds} s${notify}`;
}
