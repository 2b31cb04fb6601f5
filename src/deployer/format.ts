/** Text, Markdown and JSON views of plans, diffs, events and results; pure, the CLI prints them. */
import { environmentFieldsForPins, PINNED_KINDS } from '../artifacts/kinds.js';
import { plainStyle, type Style } from '../util/style.js';
import { clean } from '../util/terminal-text.js';
import { formatElapsed } from './clock.js';
import type { DeployResult } from './deploy.js';
import type { ArtifactDiff } from './diff.js';
import type { DeployEvent, FailedTask, TaskState } from './events.js';
import { describeStatus } from '../mwaa/environment-status.js';
import { alarmSummary } from './alarms.js';
import type { Action, Plan } from './plan.js';

/** Characters of an S3 version id the text plan shows: enough to tell versions apart by eye. */
const SHOWN_VERSION_CHARS = 8;

/**
 * An S3 version id as the text plan shows it: its first characters and "…" (real ids are 32
 * characters; two of them made a row about 180 columns wide). --json and the Markdown plan keep it whole.
 */
export function shortVersion(versionId: string | undefined): string {
  if (versionId === undefined) return '?';
  return versionId.length > SHOWN_VERSION_CHARS + 1 ? `${versionId.slice(0, SHOWN_VERSION_CHARS)}…` : versionId;
}

function describeAction(action: Action, version: (id: string | undefined) => string = (id) => id ?? '?'): [string, string, string] {
  switch (action.type) {
    case 'upload':
      return ['upload', action.target.key, `${action.reason}, ${action.target.size} B, sha256:${action.target.sha256.slice(0, 12)}`];
    case 'copy':
      return ['restore', action.target.key, `copy version ${version(action.sourceVersionId)} back as current`];
    case 'skip':
      return [
        'skip',
        action.target.key,
        action.reason === 'pinned'
          ? `unchanged, pinned version ${version(action.versionId)}`
          : action.reason === 'uploaded-not-pinned'
            ? `already uploaded as ${version(action.versionId)}`
            : 'unchanged',
      ];
    case 'update-environment': {
      const pins = PINNED_KINDS.flatMap((kind) => {
        const p = action.pins[kind];
        return p ? [`${p.key}@${'versionId' in p ? version(p.versionId) : '<new version>'}`] : [];
      });
      return ['update-env', pins.join(', '), 'UpdateEnvironment, then wait for AVAILABLE'];
    }
    case 'put-alarm':
      return [
        'put-alarm',
        action.alarm.name,
        action.reason === 'new' ? `new: ${alarmSummary(action.alarm)}` : `changed: ${action.differences.join('; ')}`,
      ];
    case 'delete-alarm':
      return ['del-alarm', action.name, 'ours, no longer in monitoring.alarms'];
    case 'skip-alarm':
      return ['skip', action.name, 'alarm unchanged'];
    case 'delete-stale-library':
      return ['remove', action.key, 'DAG library no DAG imports any more (its versions stay for rollbacks)'];
  }
}

/** The plan's last line: how many changes, none, or why none will be applied. */
function planVerdict(plan: Plan): string {
  const n = plan.changes;
  const changes = `${n} change${n === 1 ? '' : 's'}`;
  if (plan.refusals.length > 0)
    return `Refused: ${n > 0 ? `none of the ${changes} ` : 'nothing '}will be applied until the problems above are fixed.`;
  return n === 0 ? 'No changes: the environment already runs exactly this.' : `${changes}.`;
}

export function formatPlan(plan: Plan, environmentName: string, style: Style = plainStyle): string {
  const rows = plan.actions.map((action) => describeAction(action, shortVersion));
  const width = Math.max(...rows.map((r) => r[1].length), 6);
  const paint: Record<string, (text: string) => string> = {
    upload: style.green,
    restore: style.yellow,
    'update-env': style.cyan,
    'put-alarm': style.green,
    'del-alarm': style.red,
  };
  const lines = [`Plan for ${style.bold(environmentName)}:`];
  for (const [verb, what, detail] of rows) {
    const line = `  ${verb.padEnd(10)} ${what.padEnd(width)}  ${detail}`;
    lines.push(
      verb === 'skip' ? style.dim(line) : `  ${(paint[verb] ?? ((t: string) => t))(verb.padEnd(10))} ${what.padEnd(width)}  ${detail}`,
    );
  }
  for (const refusal of plan.refusals) lines.push(`  ${style.red('REFUSED:')} ${refusal.message}`);
  for (const warning of plan.warnings) lines.push(`  ${style.yellow('warning:')} ${warning}`);
  for (const note of plan.notes ?? []) lines.push(`  ${style.cyan('note:')} ${note}`);
  const verdict = planVerdict(plan);
  lines.push(plan.refusals.length > 0 ? style.red(verdict) : plan.changes > 0 ? style.bold(verdict) : verdict);
  return `${lines.join('\n')}\n`;
}

/** A fence longer than any run of backticks in `text`, so the text cannot close it. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

export function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownCode(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${text}${fence}`;
}

/** A plan as GitHub-flavoured Markdown, for $GITHUB_STEP_SUMMARY and pull request comments. */
export function planMarkdown(plan: Plan, environmentName: string, envName: string): string {
  const lines = [`### Deploy plan for ${markdownCode(environmentName)} (${markdownCell(envName)})`, ''];
  lines.push('| action | object | detail |', '|---|---|---|');
  for (const [verb, what, detail] of plan.actions.map((action) => describeAction(action))) {
    lines.push(`| ${verb} | ${what ? markdownCode(what) : ''} | ${markdownCell(detail)} |`);
  }
  lines.push('');
  for (const refusal of plan.refusals) lines.push(`> **REFUSED:** ${markdownCell(refusal.message)}`, '');
  for (const warning of plan.warnings) lines.push(`> **warning:** ${markdownCell(warning)}`, '');
  for (const note of plan.notes ?? []) lines.push(`> **note:** ${markdownCell(note)}`, '');
  lines.push(`**${planVerdict(plan)}**`);
  return `${lines.join('\n')}\n`;
}

function memberLine(change: NonNullable<ArtifactDiff['members']>[number]): string {
  switch (change.change) {
    case 'added':
      return `+ ${change.name} (${change.newSize} B)`;
    case 'removed':
      return `- ${change.name} (${change.oldSize} B)`;
    case 'changed':
      return `~ ${change.name} (${change.oldSize} B -> ${change.newSize} B)`;
  }
}

function diffHeading(diff: ArtifactDiff): string {
  if (diff.change === 'new') return `${diff.key}: new ${diff.label}, not in the bucket yet`;
  const against = !diff.against
    ? ''
    : diff.against.pinned
      ? `, against the pinned version ${diff.against.versionId ?? '?'}`
      : `, against ${diff.against.key ? `${diff.against.key}, the library the DAG in the bucket imports` : 'the current object'}` +
        `${diff.against.versionId ? ` (version ${diff.against.versionId})` : ''}`;
  return `${diff.key}: changed ${diff.label}${against}`;
}

function colourDiff(text: string, style: Style): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return style.bold(line);
      if (line.startsWith('@@')) return style.cyan(line);
      if (line.startsWith('+')) return style.green(line);
      if (line.startsWith('-')) return style.red(line);
      return line;
    })
    .join('\n');
}

/** The content diffs of a plan as text: unified diffs, and plugins.zip's member list. */
export function formatDiffs(diffs: readonly ArtifactDiff[], style: Style = plainStyle): string {
  if (diffs.length === 0) return 'No content changes to show: the plan writes nothing.\n';
  const out: string[] = [];
  for (const diff of diffs) {
    out.push(style.bold(`=== ${diffHeading(diff)}`));
    if (diff.binary) out.push('(binary content differs)');
    if (diff.members) {
      out.push(diff.members.length === 0 ? '(same members, same contents)' : 'members:');
      for (const change of diff.members) {
        const line = `  ${memberLine(change)}`;
        out.push(change.change === 'added' ? style.green(line) : change.change === 'removed' ? style.red(line) : style.yellow(line));
      }
      for (const change of diff.members) if (change.diff) out.push(colourDiff(change.diff.trimEnd(), style));
    }
    if (diff.diff !== undefined) out.push(diff.diff === '' ? '(no difference in content)' : colourDiff(diff.diff.trimEnd(), style));
    out.push('');
  }
  return `${out.join('\n')}`;
}

/** Markdown diffs, each in a collapsed section; long ones are cut to keep a PR comment within GitHub's limits. */
export function diffsMarkdown(diffs: readonly ArtifactDiff[], maxChars = 50_000): string {
  if (diffs.length === 0) return '';
  const out: string[] = ['#### Content changes', ''];
  let budget = maxChars;
  for (const diff of diffs) {
    let body = '';
    if (diff.binary) body = '(binary content differs)\n';
    if (diff.members) {
      body += `${diff.members.map(memberLine).join('\n') || '(same members, same contents)'}\n`;
      for (const change of diff.members) if (change.diff) body += change.diff;
    }
    if (diff.diff) body += diff.diff;
    if (body.length > budget) body = `${body.slice(0, Math.max(0, budget))}\n... (cut; run deploy --plan --diff to see all of it)\n`;
    budget = Math.max(0, budget - body.length);
    const fence = fenceFor(body);
    out.push(
      `<details><summary>${markdownCell(diffHeading(diff)).replace(/</g, '&lt;')}</summary>`,
      '',
      `${fence}diff`,
      body.trimEnd(),
      fence,
      '',
      '</details>',
      '',
    );
  }
  return `${out.join('\n')}`;
}

export function planJson(plan: Plan): object {
  return {
    changes: plan.changes,
    actions: plan.actions.map((action) => {
      if (action.type === 'update-environment') {
        const pins = PINNED_KINDS.flatMap((kind) => {
          const p = action.pins[kind];
          return p ? [[kind, { key: p.key, versionId: 'versionId' in p ? p.versionId : null }] as const] : [];
        });
        return { type: action.type, ...Object.fromEntries(pins), reasons: action.reasons };
      }
      if (action.type === 'put-alarm') {
        return { type: action.type, name: action.alarm.name, reason: action.reason, differences: action.differences, alarm: action.alarm };
      }
      if (action.type === 'delete-alarm' || action.type === 'skip-alarm') return { type: action.type, name: action.name };
      if (action.type === 'delete-stale-library') return { type: action.type, key: action.key };
      const base = { type: action.type, kind: action.target.kind, key: action.target.key, sha256: action.target.sha256 };
      if (action.type === 'skip') return { ...base, reason: action.reason, versionId: action.versionId ?? null };
      if (action.type === 'copy') return { ...base, reason: action.reason, sourceVersionId: action.sourceVersionId };
      return { ...base, reason: action.reason, size: action.target.size };
    }),
    refusals: plan.refusals,
    warnings: plan.warnings,
    notes: plan.notes ?? [],
  };
}

/** A task's name as Airflow gave it, made safe for a terminal (as everything Airflow answers here). */
export function taskName(t: { taskId: string; mapIndex?: string }): string {
  return clean(t.mapIndex ? `${t.taskId}[${t.mapIndex}]` : t.taskId);
}

export function formatTasks(tasks: readonly TaskState[]): string {
  const names = tasks.map(taskName);
  const width = Math.max(0, ...names.map((name) => name.length));
  return tasks.map((t, i) => `  ${names[i]?.padEnd(width)}  ${clean(t.state)}`).join('\n');
}

/** A heading and a task's log lines, each cleaned and set off with `  | ` (deploy's failures, `logs`). */
export function logBlock(heading: string, lines: readonly string[]): string {
  return [heading, ...lines.map((l) => `  | ${clean(l)}`)].join('\n');
}

/**
 * Each failed task with the end of its log (or why the log is not shown). The log lines come
 * from a GPU server, a git remote and the task itself: each is cleaned, as `check` cleans what a
 * server sends, so none can clear the screen or print a fake result in colour.
 */
export function formatFailures(failures: readonly FailedTask[]): string {
  const blocks = failures.map((f) => {
    const name = taskName(f);
    if (f.logTail) {
      const tries = f.tryNumber > 0 ? `, try ${f.tryNumber}` : '';
      return logBlock(`${name} failed; the last ${f.logTail.length} lines of its log${tries}:`, f.logTail);
    }
    return `${name} failed; its log could not be read${f.logError ? `: ${clean(f.logError)}` : ' (the MWAA CLI does not serve task logs)'}`;
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
      return {
        text: `waiting for the environment to be AVAILABLE: ${describeStatus(event.status)} (${formatElapsed(event.elapsedMs)})`,
        live: true,
      };
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
      const pins = Object.entries(environmentFieldsForPins(event.update))
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
    case 'alarm-put':
      return { text: `alarm ${event.name} ${event.reason === 'new' ? 'created' : 'updated'} (PutMetricAlarm)` };
    case 'alarm-deleted':
      return { text: `alarm ${event.name} deleted` };
    case 'object-deleted':
      return { text: `removed ${event.key} (no DAG imports it any more)` };
    case 'dag-waiting':
      return { text: `waiting for ${event.detail} (${formatElapsed(event.elapsedMs)})`, live: true };
    case 'dag-ready':
      return { text: `DAG parsed, no import errors (${formatElapsed(event.elapsedMs)})` };
    case 'dag-unpaused':
      return { text: `unpaused ${event.dagId}` };
    case 'triggered':
      return { text: `triggered ${event.dagId}: run ${event.runId}` };
    case 'run-status': {
      const running = event.tasks.filter((t) => t.state === 'running').map(taskName);
      return {
        text: `run ${clean(event.state)} (${formatElapsed(event.elapsedMs)})${running.length ? `: ${running.join(', ')}` : ''}`,
        live: true,
      };
    }
    case 'run-finished': {
      const failures = event.failures.length > 0 ? `\n${formatFailures(event.failures)}` : '';
      return {
        text: `run ${clean(event.runId)} ${clean(event.state)} after ${formatElapsed(event.elapsedMs)}\n${formatTasks(event.tasks)}${failures}`,
      };
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
    alarms: result.alarms ?? null,
    removed: result.removed ?? [],
    rollbackOf: result.rollbackOf ?? null,
    runId: result.runId ?? null,
    runState: result.runState ?? null,
    tasks: result.tasks ?? null,
    failures: result.failures ?? null,
    taskLogGroupArn: result.taskLogGroupArn ?? null,
  };
}

/**
 * The smoke check's outcome as the result shows it: whether each server passed. The runtime
 * check's report has this shape; the deployer names only what it prints of it.
 */
export interface SmokeOutcome {
  ok: boolean;
  servers: readonly { name: string; ok: boolean }[];
}

/** What a deploy did, as Markdown (after the plan): writes, update, record, run and smoke check. */
export function resultMarkdown(result: DeployResult, smoke?: SmokeOutcome): string {
  const lines = ['#### Result', ''];
  const applied = result.applied;
  lines.push(`- objects written: ${applied?.writes ?? 0}${applied?.updatedEnvironment ? '; environment updated (UpdateEnvironment)' : ''}`);
  if (result.recordKey) lines.push(`- deploy record: ${markdownCode(result.recordKey)}`);
  if (result.alarms) {
    const { put, deleted } = result.alarms;
    lines.push(`- alarms written: ${put.length}${put.length ? ` (${put.map(markdownCode).join(', ')})` : ''}; deleted: ${deleted.length}`);
  }
  if (result.removed?.length) lines.push(`- stale DAG libraries removed: ${result.removed.map(markdownCode).join(', ')}`);
  if (result.rollbackOf) lines.push(`- rolled back to: ${markdownCode(result.rollbackOf)}`);
  if (result.runId) lines.push(`- run ${markdownCode(result.runId)}: **${result.runState ?? 'triggered'}**`);
  if (smoke) {
    const passed = smoke.servers.filter((s) => s.ok).length;
    lines.push(
      `- runtime check: ${passed} of ${smoke.servers.length} servers passed${
        smoke.ok
          ? ''
          : ` (failed: ${smoke.servers
              .filter((s) => !s.ok)
              .map((s) => s.name)
              .join(', ')})`
      }`,
    );
  }
  if (result.tasks && result.tasks.length > 0) {
    lines.push('', '| task | state |', '|---|---|');
    for (const t of result.tasks) lines.push(`| ${markdownCode(t.mapIndex ? `${t.taskId}[${t.mapIndex}]` : t.taskId)} | ${t.state} |`);
  }
  return `${lines.join('\n')}\n`;
}
