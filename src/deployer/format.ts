/** Text and JSON views of plans, events and results; pure, the CLI prints them. */
import { formatElapsed } from './clock.js';
import type { DeployResult } from './deploy.js';
import type { DeployEvent, FailedTask, TaskState } from './events.js';
import { describeStatus } from '../mwaa/environment-status.js';
import type { Action, Plan } from './plan.js';

function describeAction(action: Action): [string, string, string] {
  switch (action.type) {
    case 'upload':
      return ['upload', action.target.key, `${action.reason}, ${action.target.size} B, sha256:${action.target.sha256.slice(0, 12)}`];
    case 'copy':
      return ['restore', action.target.key, `copy version ${action.sourceVersionId} back as current`];
    case 'skip':
      return [
        'skip',
        action.target.key,
        action.reason === 'pinned'
          ? `unchanged, pinned version ${action.versionId ?? '?'}`
          : action.reason === 'uploaded-not-pinned'
            ? `already uploaded as ${action.versionId ?? '?'}`
            : 'unchanged',
      ];
    case 'update-environment': {
      const pins = [action.requirements, action.plugins]
        .filter((p) => p !== undefined)
        .map((p) => `${p.key}@${'versionId' in p ? p.versionId : '<new version>'}`);
      return ['update-env', pins.join(', '), 'UpdateEnvironment, then wait for AVAILABLE'];
    }
  }
}

export function formatPlan(plan: Plan, environmentName: string): string {
  const rows = plan.actions.map(describeAction);
  const width = Math.max(...rows.map((r) => r[1].length), 6);
  const lines = [`Plan for ${environmentName}:`];
  for (const [verb, what, detail] of rows) lines.push(`  ${verb.padEnd(10)} ${what.padEnd(width)}  ${detail}`);
  for (const refusal of plan.refusals) lines.push(`  REFUSED: ${refusal.message}`);
  for (const warning of plan.warnings) lines.push(`  warning: ${warning}`);
  lines.push(
    plan.changes === 0
      ? 'No changes: the environment already runs exactly this.'
      : `${plan.changes} change${plan.changes === 1 ? '' : 's'}.`,
  );
  return `${lines.join('\n')}\n`;
}

export function planJson(plan: Plan): object {
  return {
    changes: plan.changes,
    actions: plan.actions.map((action) => {
      if (action.type === 'update-environment') {
        const pin = (p: typeof action.plugins) =>
          p === undefined ? undefined : { key: p.key, versionId: 'versionId' in p ? p.versionId : null };
        return { type: action.type, plugins: pin(action.plugins), requirements: pin(action.requirements), reasons: action.reasons };
      }
      const base = { type: action.type, kind: action.target.kind, key: action.target.key, sha256: action.target.sha256 };
      if (action.type === 'skip') return { ...base, reason: action.reason, versionId: action.versionId ?? null };
      if (action.type === 'copy') return { ...base, reason: action.reason, sourceVersionId: action.sourceVersionId };
      return { ...base, reason: action.reason, size: action.target.size };
    }),
    refusals: plan.refusals,
    warnings: plan.warnings,
  };
}

export function formatTasks(tasks: readonly TaskState[]): string {
  const width = Math.max(0, ...tasks.map((t) => t.taskId.length + (t.mapIndex ? t.mapIndex.length + 2 : 0)));
  return tasks
    .map((t) => `  ${(t.mapIndex ? `${t.taskId}[${t.mapIndex}]` : t.taskId).padEnd(width)}  ${t.state}`)
    .join('\n');
}

/** Each failed task with the end of its log (or why the log is not shown). */
export function formatFailures(failures: readonly FailedTask[]): string {
  const blocks = failures.map((f) => {
    const name = f.mapIndex ? `${f.taskId}[${f.mapIndex}]` : f.taskId;
    if (f.logTail) {
      const tries = f.tryNumber > 0 ? `, try ${f.tryNumber}` : '';
      return [`${name} failed; the last ${f.logTail.length} lines of its log${tries}:`, ...f.logTail.map((l) => `  | ${l}`)].join('\n');
    }
    return `${name} failed; its log could not be read${f.logError ? `: ${f.logError}` : ' (the MWAA CLI does not serve task logs)'}`;
  });
  return blocks.join('\n');
}

/** One line per event; `live` marks lines a TTY may overwrite in place. */
export function formatEvent(event: DeployEvent): { text: string; live?: boolean } | undefined {
  switch (event.type) {
    case 'generated':
      return { text: `generated ${event.artifacts} artifacts (config ${event.configHash.slice(0, 12)})` };
    case 'remote-state':
      return undefined;
    case 'waiting-for-available':
      return { text: `waiting for the environment to be AVAILABLE: ${describeStatus(event.status)} (${formatElapsed(event.elapsedMs)})`, live: true };
    case 'planned':
      return undefined;
    case 'lock-acquired':
      return { text: `lock ${event.key} taken${event.takenOverFrom ? ` over from expired holder ${event.takenOverFrom}` : ''}` };
    case 'lock-released':
      return { text: `lock ${event.key} released` };
    case 'write-started':
      return { text: `${event.method === 'upload' ? 'uploading' : 'restoring'} ${event.key} (${event.size} B)...`, live: true };
    case 'write-finished':
      return { text: `${event.method === 'upload' ? 'uploaded' : 'restored'} ${event.key} → version ${event.versionId ?? '(none)'}` };
    case 'update-started': {
      const pins = Object.entries(event.update)
        .filter(([k]) => k.endsWith('ObjectVersion'))
        .map(([k, v]) => `${k}=${v}`);
      return { text: `UpdateEnvironment ${pins.join(' ')}` };
    }
    case 'environment-status':
      return { text: `environment ${describeStatus(event.status)} (${formatElapsed(event.elapsedMs)})`, live: true };
    case 'update-finished':
      return { text: `environment ${event.status} after ${formatElapsed(event.elapsedMs)}` };
    case 'record-written':
      return { text: `deploy record ${event.key}` };
    case 'dag-waiting':
      return { text: `waiting for ${event.detail} (${formatElapsed(event.elapsedMs)})`, live: true };
    case 'dag-ready':
      return { text: `DAG parsed, no import errors (${formatElapsed(event.elapsedMs)})` };
    case 'dag-unpaused':
      return { text: `unpaused ${event.dagId}` };
    case 'triggered':
      return { text: `triggered ${event.dagId}: run ${event.runId}` };
    case 'run-status': {
      const running = event.tasks.filter((t) => t.state === 'running').map((t) => t.taskId);
      return {
        text: `run ${event.state} (${formatElapsed(event.elapsedMs)})${running.length ? `: ${running.join(', ')}` : ''}`,
        live: true,
      };
    }
    case 'run-finished': {
      const failures = event.failures.length > 0 ? `\n${formatFailures(event.failures)}` : '';
      return { text: `run ${event.runId} ${event.state} after ${formatElapsed(event.elapsedMs)}\n${formatTasks(event.tasks)}${failures}` };
    }
    case 'task-logs':
      return {
        text: event.logGroupArn
          ? `task logs in CloudWatch: ${event.logGroupArn}`
          : 'task logging to CloudWatch is off for this environment (LoggingConfiguration.TaskLogs); turn it on to keep task logs',
      };
    case 'warning':
      return { text: `warning: ${event.message}` };
  }
}

export function resultJson(result: DeployResult): object {
  return {
    plan: planJson(result.plan),
    changes: result.plan.changes,
    writes: result.applied?.writes ?? 0,
    updatedEnvironment: result.applied?.updatedEnvironment ?? false,
    objects: result.applied?.objects.map(({ kind, key, sha256, versionId }) => ({ kind, key, sha256, versionId: versionId ?? null })),
    record: result.recordKey ?? null,
    rollbackOf: result.rollbackOf ?? null,
    runId: result.runId ?? null,
    runState: result.runState ?? null,
    tasks: result.tasks ?? null,
    failures: result.failures ?? null,
    taskLogGroupArn: result.taskLogGroupArn ?? null,
  };
}
