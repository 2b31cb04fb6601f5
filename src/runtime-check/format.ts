/**
 * Text and JSON renderings of a check report. Pure: the CLI decides where they go. Values that
 * came from a server (file contents, git output) are stripped of control characters so that a
 * hostile file cannot rewrite the terminal.
 */
import type { CheckReport, ServerReport } from './report.js';

export interface JsonReport {
  ok: boolean;
  servers: Array<{
    name: string;
    host: string;
    port: number;
    ok: boolean;
    checks: Array<{ name: string; ok: boolean; ms: number; reason: string }>;
    git?: { branch: string; commit: string };
    hostKey?: { line: string; fingerprint: string; matchesPinned: boolean | null };
    variables?: Array<{ key: string; fileKey: string; fileValue: string | null; airflowValue: string | null; equal: boolean }>;
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
      checks: server.checks.map(({ name, ok, ms, reason }) => ({ name, ok, ms, reason })),
      ...(server.git ? { git: server.git } : {}),
      ...(server.hostKey ? { hostKey: server.hostKey } : {}),
      ...(server.variables ? { variables: server.variables } : {}),
    })),
    durationMs: report.durationMs,
  };
}

export function formatReport(report: CheckReport): string {
  return report.mode === 'host-keys' ? formatHostKeys(report) : formatChecks(report);
}

function formatChecks(report: CheckReport): string {
  const out: string[] = [];
  for (const server of report.servers) {
    out.push(`${server.ok ? 'PASS' : 'FAIL'}  ${server.name}  ${server.host}:${server.port}`);
    out.push(
      ...table(
        ['check', 'result', 'time', 'detail'],
        server.checks.map((check) => [check.name, check.ok ? 'ok' : 'FAIL', formatMs(check.ms), clean(check.reason)]),
        '  ',
        [false, false, true, false],
      ),
    );
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
    out.push(...table(['server', 'variable', 'file', 'airflow', ''], rows, '  '));
    out.push('');
  }
  out.push(summary(report));
  return `${out.join('\n')}\n`;
}

function formatHostKeys(report: CheckReport): string {
  const out: string[] = [];
  for (const server of report.servers) {
    if (!server.hostKey) {
      out.push(`# ${server.name} (${server.host}:${server.port}): ${clean(server.checks[0]?.reason ?? 'no host key')}`);
      continue;
    }
    const status =
      server.hostKey.matchesPinned === null ? 'not pinned yet' : server.hostKey.matchesPinned ? 'matches the config' : 'DIFFERS from the config';
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

function summary(report: CheckReport): string {
  const failed = report.servers.filter((server) => !server.ok);
  const total = report.servers.length;
  const head = `${total - failed.length} of ${total} servers passed in ${formatMs(report.durationMs)}`;
  if (failed.length === 0) return `${head}.`;
  const shown = failed
    .slice(0, 20)
    .map((server) => `${server.name} (${server.checks.filter((c) => !c.ok && !c.reason.startsWith('skipped')).map((c) => c.name).join(', ')})`);
  const more = failed.length > 20 ? `, and ${failed.length - 20} more` : '';
  return `${head}; failed: ${shown.join(', ')}${more}.`;
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

/** Control characters (C0, DEL, C1) become U+FFFD; tabs and newlines become spaces. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

function quoteCell(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}

function table(header: string[], rows: string[][], indent: string, rightAlign: boolean[] = []): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const render = (row: string[]) =>
    (
      indent +
      row
        .map((cell, i) => {
          const last = i === row.length - 1;
          if (rightAlign[i]) return cell.padStart(widths[i] ?? 0);
          return last ? cell : cell.padEnd(widths[i] ?? 0);
        })
        .join('  ')
    ).trimEnd();
  return [render(header), ...rows.map(render)];
}

export type { ServerReport };
