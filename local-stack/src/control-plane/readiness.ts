/**
 * When a freshly (re)started Airflow can run tasks and answer REST calls. On Airflow 3 task
 * processes call the api-server's execution API, which takes ~30 s to come up on a small machine:
 * until its health endpoint answers, a triggered task would fail; it also serves /api/v2. On
 * Airflow 2 the scheduler runs tasks itself and the web server serves /api/v1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AirflowLine } from '../../../src/mwaa/versions.js';

/** Reads `[section] key = value` from airflow.cfg (no interpolation needed for host/port). */
export function readAirflowCfg(text: string, section: string, key: string): string | undefined {
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line.startsWith(';') || line === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!.trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (current === section && eq > 0 && line.slice(0, eq).trim() === key) return line.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The base URL of the process serving Airflow's REST API as the Airflow processes see it (env
 * overrides, then airflow.cfg): the api-server on 3, the web server on 2.
 */
export function apiServerBaseUrl(env: NodeJS.ProcessEnv, airflowHome: string, line: AirflowLine = '3'): string {
  let cfg = '';
  try {
    cfg = readFileSync(join(airflowHome, 'airflow.cfg'), 'utf8');
  } catch {
    // No airflow.cfg: Airflow's defaults apply.
  }
  const [section, portKey, hostKey] = line === '3' ? ['api', 'port', 'host'] : ['webserver', 'web_server_port', 'web_server_host'];
  const envName = (key: string) => `AIRFLOW__${section.toUpperCase()}__${key.toUpperCase()}`;
  const port = env[envName(portKey)] ?? readAirflowCfg(cfg, section, portKey) ?? '8080';
  let host = env[envName(hostKey)] ?? readAirflowCfg(cfg, section, hostKey) ?? '0.0.0.0';
  if (host === '' || host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class AirflowNotReadyError extends Error {
  readonly errorCode = 'AIRFLOW_NOT_READY';

  constructor(message: string) {
    super(message);
    this.name = 'AirflowNotReadyError';
  }
}

export interface ReadinessOptions {
  line: AirflowLine;
  env: () => NodeJS.ProcessEnv;
  airflowHome: string;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  fetchImpl?: typeof fetch;
}

/** The health endpoint of the line's REST server. */
export const HEALTH_PATH: Record<AirflowLine, string> = { '2': '/health', '3': '/api/v2/monitor/health' };

/** Resolves once Airflow can run tasks and serve REST calls; throws after the timeout. */
export async function waitForAirflow(options: ReadinessOptions): Promise<void> {
  const url = `${apiServerBaseUrl(options.env(), options.airflowHome, options.line)}${HEALTH_PATH[options.line]}`;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const fetchImpl = options.fetchImpl ?? fetch;
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline)
      throw new AirflowNotReadyError(
        `Airflow ${options.line === '3' ? 'api-server' : 'web server'} at ${url} not healthy after ${(options.timeoutMs ?? 180_000) / 1000} s (${last})`,
      );
    await sleep(1000);
  }
}
