/** Text, Markdown and JSON views of a status report (status.ts); pure, the CLI prints them. */
import { describeStatus } from '../mwaa/environment-status.js';
import { plainStyle, type Style } from '../util/style.js';
import { clean } from '../util/terminal-text.js';
import { markdownCell, markdownCode } from './format.js';
import { shortVersion } from './history.js';
import type { ArtifactState, StatusReport } from './status.js';

const STATE_TEXT: Record<ArtifactState, string> = {
  'in-sync': 'in sync',
  drift: 'DRIFT',
  missing: 'MISSING',
  'not-pinned': 'NOT PINNED',
};

function lastUpdateText(report: StatusReport): string | undefined {
  const update = report.environment.lastUpdate;
  if (!update) return undefined;
  const error = update.errorCode || update.errorMessage ? `: ${[update.errorCode, update.errorMessage].filter(Boolean).join(': ')}` : '';
  return `${update.status ?? '?'}${update.createdAt ? ` (${update.createdAt})` : ''}${error}`;
}

function driftVerdict(report: StatusReport): string {
  const off = report.artifacts.filter((a) => a.state !== 'in-sync').length;
  if (off === 0) return 'No drift: what runs is what generate makes now.';
  return `Drift: ${off} artifact${off === 1 ? ' differs' : 's differ'} from what generate makes now; deploy --env ${report.envName} --plan shows the change.`;
}

function runsText(report: StatusReport, style: Style): string[] {
  const { airflow } = report;
  if ('error' in airflow) return [`DAG ${airflow.dagId}: Airflow did not answer: ${clean(airflow.error)}`];
  const lines: string[] = [];
  const paused =
    airflow.paused === undefined ? 'not known to Airflow (not parsed yet?)' : airflow.paused ? style.yellow('paused') : 'active';
  const errors = airflow.importErrors.length;
  lines.push(
    `DAG ${airflow.dagId}: ${paused}, ${errors === 0 ? 'no import errors' : style.red(`${errors} import error${errors === 1 ? '' : 's'}`)}`,
  );
  for (const e of airflow.importErrors)
    lines.push(
      `  ${clean(e.filename)}:`,
      ...e.stackTrace
        .trim()
        .split('\n')
        .map((l) => `  | ${clean(l)}`),
    );
  if (airflow.runs.length === 0) {
    lines.push('Last runs: none');
  } else {
    lines.push('Last runs (newest first):');
    const width = Math.max(...airflow.runs.map((r) => clean(r.runId).length));
    for (const run of airflow.runs) {
      const state = run.state === 'success' ? style.green(run.state) : run.state === 'failed' ? style.red(run.state) : run.state;
      const when = [run.startDate && `started ${run.startDate}`, run.endDate && `ended ${run.endDate}`].filter(Boolean).join(', ');
      lines.push(`  ${clean(run.runId).padEnd(width)}  ${state}${when ? `  ${when}` : ''}`);
    }
  }
  return lines;
}

export function formatStatus(report: StatusReport, style: Style = plainStyle): string {
  const env = report.environment;
  const lines = [
    `Environment ${style.bold(report.environmentName)} (${report.envName}): ${env.status === 'AVAILABLE' ? style.green(env.status) : style.yellow(describeStatus(env.status))}, Airflow ${env.airflowVersion ?? '?'}`,
  ];
  const update = lastUpdateText(report);
  if (update) lines.push(`  last update: ${clean(update)}`);
  lines.push('', 'Artifacts (what runs against what generate makes now):');
  const width = Math.max(...report.artifacts.map((a) => a.key.length), 6);
  for (const a of report.artifacts) {
    const state = STATE_TEXT[a.state].padEnd(10);
    const shown = a.state === 'in-sync' ? style.green(state) : style.red(state);
    const detail =
      a.state === 'in-sync'
        ? `version ${shortVersion(a.deployedVersion)}`
        : `version ${shortVersion(a.deployedVersion)}, sha256 ${a.deployedSha256?.slice(0, 12) ?? '-'} runs, ${a.generatedSha256.slice(0, 12)} generated`;
    lines.push(`  ${shown} ${a.key.padEnd(width)}  ${detail}`);
  }
  lines.push(report.drift ? style.yellow(driftVerdict(report)) : driftVerdict(report));
  for (const problem of report.problems) lines.push(`  ${style.yellow('warning:')} ${problem}`);
  const record = report.newestRecord;
  lines.push('');
  if (record) {
    const who = record.who.arn ?? `${record.who.user}@${record.who.host}`;
    lines.push(`Newest deploy record: ${record.id} (${record.kind}, ${record.at}, by ${clean(who)})`);
    if (!record.describesLive) lines.push(`  ${style.yellow('warning:')} what runs is not what it records (changed outside deploy?)`);
  } else {
    lines.push('Newest deploy record: none (never deployed with this tool)');
  }
  lines.push('', ...runsText(report, style));
  return `${lines.join('\n')}\n`;
}

export function statusMarkdown(report: StatusReport): string {
  const env = report.environment;
  const lines = [
    `### Status of ${markdownCode(report.environmentName)} (${markdownCell(report.envName)})`,
    '',
    `**${env.status}**, Airflow ${env.airflowVersion ?? '?'}${lastUpdateText(report) ? `; last update: ${markdownCell(lastUpdateText(report)!)}` : ''}`,
    '',
    '| artifact | object | state | deployed version |',
    '|---|---|---|---|',
  ];
  for (const a of report.artifacts) {
    lines.push(
      `| ${a.label} | ${markdownCode(a.key)} | ${STATE_TEXT[a.state]} | ${a.deployedVersion ? markdownCode(a.deployedVersion) : ''} |`,
    );
  }
  lines.push('', `**${driftVerdict(report)}**`, '');
  const { airflow } = report;
  if ('error' in airflow) {
    lines.push(`> Airflow did not answer: ${markdownCell(airflow.error)}`);
  } else {
    lines.push(
      `DAG ${markdownCode(airflow.dagId)}: ${airflow.paused === undefined ? 'not known to Airflow' : airflow.paused ? 'paused' : 'active'}, ${airflow.importErrors.length} import error(s)`,
      '',
    );
    if (airflow.runs.length > 0) {
      lines.push('| run | state | started | ended |', '|---|---|---|---|');
      for (const r of airflow.runs) lines.push(`| ${markdownCode(r.runId)} | ${r.state} | ${r.startDate ?? ''} | ${r.endDate ?? ''} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function statusJson(report: StatusReport): Record<string, unknown> {
  return { ...report };
}
