/**
 * Text and JSON renderings of a check report. Pure: the CLI decides where they go. Values that
 * came from a server (file contents, git output) are stripped of control characters so that a
 * hostile file cannot rewrite the terminal.
 */
import { plainStyle, type Style } from '../util/style.js';
import { clean } from '../util/terminal-text.js';
import type { GpuReading } from './nvidia-smi.js';
import { checkDetail, checkLabel, checkStatus, type CheckReport, type CheckStatus, type ServerReport } from './report.js';

export interface JsonReport {
  ok: boolean;
  servers: Array<{
    name: string;
    host: string;
    port: number;
    ok: boolean;
    /** `ok` is null for a skipped check: it did not run, so it neither passed nor failed. */
    checks: Array<{ name: string; repository?: string; status: CheckStatus; ok: boolean | null; ms: number; reason: string }>;
    git?: { branch: string; commit: string };
    repositories?: Record<string, { branch: string; commit: string }>;
    hostKey?: { line: string; fingerprint: string; matchesPinned: boolean | null };
    variables?: Array<{ key: string; fileKey: string; fileValue: string | null; airflowValue: string | null; equal: boolean }>;
    /** cudaVersion: the newest CUDA the driver supports (nvidia-smi's header), not the installed toolkit. */
    gpus?: GpuReading;
  }>;
  durationMs: number;
}

export function reportJson(report: CheckReport): JsonReport {
  return {
    ok: report.ok,
    servers: report.servers.map((server) => ({
      name: server.name,
      host: server.host,
      port: server.port,
      ok: server.ok,
      checks: server.checks.map((check) => {
        const status = checkStatus(check);
        return {
          name: check.name,
          ...(check.repository ? { repository: check.repository } : {}),
          status,
          ok: status === 'skip' ? null : check.ok,
          ms: check.ms,
          reason: checkDetail(check),
        };
      }),
      ...(server.git ? { git: server.git } : {}),
      ...(server.repositories ? { repositories: server.repositories } : {}),
      ...(server.hostKey ? { hostKey: server.hostKey } : {}),
      ...(server.variables ? { variables: server.variables } : {}),
      ...(server.gpus ? { gpus: server.gpus } : {}),
    })),
    durationMs: report.durationMs,
  };
}

export function formatReport(report: CheckReport, style: Style = plainStyle): string {
  return report.mode === 'host-keys' ? formatHostKeys(report, style) : formatChecks(report, style);
}

const RESULT_WORDS: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip' };

function formatChecks(report: CheckReport, style: Style): string {
  const out: string[] = [];
  const paint: Record<CheckStatus, (text: string) => string> = { pass: style.green, fail: style.red, skip: style.dim };
  for (const server of report.servers) {
    out.push(`${server.ok ? style.green('PASS') : style.red('FAIL')}  ${style.bold(server.name)}  ${server.host}:${server.port}`);
    out.push(
      ...table(
        ['check', 'result', 'time', 'detail'],
        server.checks.map((check) => {
          const status = checkStatus(check);
          return [checkLabel(check), RESULT_WORDS[status], formatMs(check.ms), clean(checkDetail(check))];
        }),
        '  ',
        [false, false, true, false],
        (row, cells) => (row < 0 ? cells : cells.map((cell, i) => (i === 1 ? paint[checkStatus(server.checks[row]!)](cell) : cell))),
      ),
    );
    out.push('');
  }
  const withGpus = report.servers.filter((server) => server.gpus && server.gpus.gpus.length > 0);
  if (withGpus.length > 0) {
    out.push("GPUs (CUDA: the newest the driver supports, from nvidia-smi's header; not the installed toolkit)");
    const rows = withGpus.flatMap((server) =>
      (server.gpus?.gpus ?? []).map((gpu) => [
        server.name,
        String(gpu.index),
        clean(gpu.name),
        `${gpu.memoryUsedMiB ?? '-'} / ${gpu.memoryTotalMiB} MiB`,
        gpu.eccUncorrected === null ? 'n/a' : String(gpu.eccUncorrected),
        gpu.mig ?? 'n/a',
        `${clean(server.gpus?.driverVersion ?? '')} / ${clean(server.gpus?.cudaVersion ?? 'N/A')}`,
        gpu.busId,
      ]),
    );
    out.push(...table(['server', 'gpu', 'name', 'memory used', 'ecc errors', 'mig', 'driver / cuda', 'bus id'], rows, '  ', [false, true]));
    out.push('');
  }
  const compared = report.servers.filter((server) => server.variables && server.variables.length > 0);
  if (compared.length > 0) {
    out.push('Airflow Variables compared with the version file');
    const rows = compared.flatMap((server) =>
      (server.variables ?? []).map((row) => [
        server.name,
        row.key,
        row.fileValue === null ? '-' : clean(quoteCell(row.fileValue)),
        row.airflowValue === null ? '(not set)' : clean(quoteCell(row.airflowValue)),
        row.equal ? 'match' : 'DIFFERS',
      ]),
    );
    out.push(
      ...table(['server', 'variable', 'file', 'airflow', ''], rows, '  ', [], (row, cells) =>
        row < 0 ? cells : cells.map((cell, i) => (i === 4 ? (cell === 'match' ? style.green(cell) : style.red(cell)) : cell)),
      ),
    );
    out.push('');
  }
  out.push(summary(report, style));
  return `${out.join('\n')}\n`;
}

function formatHostKeys(report: CheckReport, style: Style): string {
  const out: string[] = [];
  for (const server of report.servers) {
    if (!server.hostKey) {
      out.push(`# ${server.name} (${server.host}:${server.port}): ${clean(server.checks[0]?.reason ?? 'no host key')}`);
      continue;
    }
    const status =
      server.hostKey.matchesPinned === null
        ? 'not pinned yet'
        : server.hostKey.matchesPinned
          ? style.green('matches the config')
          : style.red('DIFFERS from the config');
    out.push(`# ${server.name} (${server.host}:${server.port}) ${server.hostKey.fingerprint}, ${status}`);
    out.push(`- name: ${server.name}`);
    out.push(`  hostPublicKey: ${server.hostKey.line}`);
  }
  const got = report.servers.filter((server) => server.hostKey).length;
  out.push('');
  out.push(
    `${got} of ${report.servers.length} host keys collected. Compare each fingerprint with the server's own ` +
      '(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it) before pinning it.',
  );
  return `${out.join('\n')}\n`;
}

function summary(report: CheckReport, style: Style): string {
  const failed = report.servers.filter((server) => !server.ok);
  const total = report.servers.length;
  const head = `${total - failed.length} of ${total} servers passed in ${formatMs(report.durationMs)}`;
  if (failed.length === 0) return style.green(`${head}.`);
  const shown = failed.slice(0, 20).map(
    (server) =>
      `${server.name} (${server.checks
        .filter((c) => checkStatus(c) === 'fail')
        .map(checkLabel)
        .join(', ')})`,
  );
  const more = failed.length > 20 ? `, and ${failed.length - 20} more` : '';
  return style.red(`${head}; failed: ${shown.join(', ')}${more}.`);
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

function quoteCell(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}

/**
 * Aligned columns. `paint` colours a row's cells after they are padded (row -1 is the header), so
 * colour codes never upset the widths.
 */
function table(
  header: string[],
  rows: string[][],
  indent: string,
  rightAlign: boolean[] = [],
  paint: (row: number, cells: string[]) => string[] = (_row, cells) => cells,
): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const render = (row: string[], index: number) =>
    (
      indent +
      paint(
        index,
        row.map((cell, i) => {
          const last = i === row.length - 1;
          if (rightAlign[i]) return cell.padStart(widths[i] ?? 0);
          return last ? cell : cell.padEnd(widths[i] ?? 0);
        }),
      ).join('  ')
    ).trimEnd();
  return [render(header, -1), ...rows.map((row, i) => render(row, i))];
}

export type { ServerReport };
