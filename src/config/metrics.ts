/**
 * The custom metrics the generated DAG publishes to CloudWatch (when monitoring.metrics.namespace
 * is set), one table for the config schema (which metrics alarms may watch), the DAG (what it
 * publishes) and deploy (the alarms it creates). Each datum is published twice in the same call:
 * with the configured dimensions only (the environment-wide series that alarms watch) and with the
 * per-item dimensions added (Server, Repository) for dashboards.
 */
export const DAG_METRICS = {
  SshConnectSeconds: {
    unit: 'Seconds',
    itemDimensions: ['Server'],
    description: 'Seconds to open the SSH connection of test_ssh_connection',
  },
  GitSeconds: { unit: 'Seconds', itemDimensions: ['Server', 'Repository'], description: 'Seconds of the clone or fetch of one repository' },
  VariablesUpdated: { unit: 'Count', itemDimensions: ['Server'], description: 'Airflow Variables whose value changed in a run' },
  GpuCount: { unit: 'Count', itemDimensions: ['Server'], description: 'GPUs nvidia-smi reports on a server (check_gpus)' },
  GpuMemoryUsedPercent: {
    unit: 'Percent',
    itemDimensions: ['Server'],
    description: "Memory in use over a server's GPUs, in percent (check_gpus)",
  },
  RunSucceeded: { unit: 'Count', itemDimensions: [], description: '1 when a run ends successfully, 0 when it fails' },
} as const;

export type DagMetric = keyof typeof DAG_METRICS;

/**
 * The dimensions the DAG adds to the per-item datum (from the table above, which the generator
 * passes to the DAG as its `item_dimensions`). A configured dimension of the same name would be
 * on that datum twice, which CloudWatch refuses, so the config may not use these names.
 */
export const ITEM_DIMENSIONS: readonly string[] = [...new Set(Object.values(DAG_METRICS).flatMap((metric) => metric.itemDimensions))];
export const DAG_METRIC_NAMES = Object.keys(DAG_METRICS) as [DagMetric, ...DagMetric[]];

/** CloudWatch's statistics and comparison operators that an alarm on these metrics may use. */
export const ALARM_STATISTICS = ['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount'] as const;
export const ALARM_COMPARISONS = [
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
export const ALARM_MISSING_DATA = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;

/** The CloudWatch name of a configured alarm: the environment's name, a dash, the short name. */
export function alarmName(environmentName: string, shortName: string): string {
  return `${environmentName}-${shortName}`;
}

/**
 * The tag deploy puts on every alarm it creates, valued with the MWAA environment's name. Alarm
 * names only share a prefix (environment gpu-cicd's alarm prod-x and environment gpu-cicd-prod's
 * alarm x are both gpu-cicd-prod-x), so deploy updates or deletes an alarm only when this tag names
 * its own environment.
 */
export const ALARM_OWNER_TAG = 'mwaa-gpu-cicd:environment';
