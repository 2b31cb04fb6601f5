/**
 * Is the stack's Airflow really working? The scheduler (and on line 3 the dag-processor) must have
 * a running job whose heartbeat is newer than the moment the control plane started it. Read
 * straight from the SQLite metadata DB with the venv's Python (stdlib sqlite3): ~50 ms instead of
 * the 3-5 s an `airflow jobs check` call costs.
 */
import { join } from 'node:path';
import type { AirflowLine } from './state.js';
import { run } from './processes.js';
import { HEALTH_PATH } from './control-plane/readiness.js';

const HEARTBEAT_PROBE = `
import datetime, sqlite3, sys
db, since, *job_types = sys.argv[1:]
since = datetime.datetime.fromisoformat(since)
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
missing = []
for job_type in job_types:
    row = con.execute("select max(latest_heartbeat) from job where job_type = ? and state = 'running'", (job_type,)).fetchone()
    beat = row[0] if row else None
    if beat is None or datetime.datetime.fromisoformat(str(beat)).replace(tzinfo=None) < since:
        missing.append(job_type)
print(" ".join(missing) if missing else "ok")
`;

export function jobTypes(line: AirflowLine): string[] {
  return line === '2' ? ['SchedulerJob'] : ['SchedulerJob', 'DagProcessorJob'];
}

/** Resolves to the job types still without a fresh heartbeat ([] when healthy). */
export async function staleJobs(options: {
  venvBin: string;
  airflowHome: string;
  line: AirflowLine;
  /** Heartbeats older than this do not count (stale rows of an earlier run). */
  since: Date;
}): Promise<string[]> {
  const sinceUtc = options.since.toISOString().replace('T', ' ').replace('Z', '');
  const { stdout } = await run(
    join(options.venvBin, 'python'),
    ['-c', HEARTBEAT_PROBE, join(options.airflowHome, 'airflow.db'), sinceUtc, ...jobTypes(options.line)],
    { timeoutMs: 15_000 },
  );
  const out = stdout.trim();
  return out === 'ok' ? [] : out.split(/\s+/);
}

/**
 * The process serving Airflow's REST API answers its health check: the web server on line 2, the
 * api-server (which also serves the tasks' Execution API) on line 3.
 */
export async function apiServerHealthy(port: number, line: AirflowLine): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}${HEALTH_PATH[line]}`, { signal: AbortSignal.timeout(3_000) });
  await response.body?.cancel();
  return response.status === 200;
}
