/**
 * AIRFLOW_HOME of the stack: a small airflow.cfg with the settings that matter for local tests
 * (Airflow fills in every other default), and a migrated SQLite metadata DB. Everything lives in
 * the file, so any `airflow` command run with only AIRFLOW_HOME set sees the same configuration.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AirflowLine } from './state.js';
import { runLogged } from './processes.js';
import { freePort, portIsFree } from './net.js';
import { writeJsonAtomic } from './state.js';

/** Secrets and ports chosen once per AIRFLOW_HOME and kept, so restarts see the same values. */
export interface AirflowSettings {
  fernetKey: string;
  secretKey: string;
  jwtSecret: string;
  /** The web server's (2) or api-server's (3) port. */
  apiPort: number;
  workerLogServerPort: number;
  triggerLogServerPort: number;
  /** Password of WEB_USER, the Airflow user a web login becomes. */
  webPassword: string;
}

/**
 * The Airflow user MWAA's web login becomes here, with the Op role the deploy role's IAM policy
 * grants (Op can read Variables and unpause DAGs; Viewer and User cannot read Variables).
 */
export const WEB_USER = { username: 'mwaa-op', fabRole: 'Op', simpleRole: 'op' } as const;

export interface AirflowHomeInfo {
  dagsFolder: string;
  pluginsFolder: string;
  logsFolder: string;
  /** `sqlite:////abs/airflow.db` */
  sqlAlchemyConn: string;
  executor: string;
  /** Port of `airflow webserver` (line 2) or `airflow api-server` (line 3, also the Execution API). */
  apiPort?: number;
}

const SETTINGS_FILE = 'stack-settings.json';
const MIGRATED_MARKER = '.mwaa-local-migrated';
const WEB_USER_MARKER = '.mwaa-local-web-user';

export async function loadOrCreateSettings(airflowHome: string): Promise<AirflowSettings> {
  const path = join(airflowHome, SETTINGS_FILE);
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<AirflowSettings>;
    if (saved.webPassword) return saved as AirflowSettings;
    // Written before the web login existed: add the user's password, keep everything else.
    const completed = { ...saved, webPassword: randomBytes(18).toString('base64url') } as AirflowSettings;
    writeJsonAtomic(path, completed);
    return completed;
  }
  const settings: AirflowSettings = {
    // Fernet keys are 32 random bytes, url-safe base64.
    fernetKey: `${randomBytes(32).toString('base64url')}=`,
    secretKey: randomBytes(16).toString('base64'),
    jwtSecret: randomBytes(24).toString('base64'),
    apiPort: await freePort(),
    workerLogServerPort: await freePort(),
    triggerLogServerPort: await freePort(),
    webPassword: randomBytes(18).toString('base64url'),
  };
  writeJsonAtomic(path, settings);
  return settings;
}

export function homeInfo(airflowHome: string, line: AirflowLine, settings: AirflowSettings): AirflowHomeInfo {
  return {
    dagsFolder: join(airflowHome, 'dags'),
    pluginsFolder: join(airflowHome, 'plugins'),
    logsFolder: join(airflowHome, 'logs'),
    sqlAlchemyConn: `sqlite:///${join(airflowHome, 'airflow.db')}`,
    executor: line === '2' ? 'SequentialExecutor' : 'LocalExecutor',
    apiPort: settings.apiPort,
  };
}

/** Line 3: SimpleAuthManager's passwords file (the users themselves are in airflow.cfg). */
export function passwordsFile(airflowHome: string): string {
  return join(airflowHome, 'simple_auth_manager_passwords.json');
}

/** The airflow.cfg text for one line. Pure: same inputs, same bytes. */
export function renderAirflowCfg(line: AirflowLine, info: AirflowHomeInfo, settings: AirflowSettings): string {
  const sections: Record<string, Record<string, string | number | boolean>> = {
    core: {
      dags_folder: info.dagsFolder,
      plugins_folder: info.pluginsFolder,
      executor: info.executor,
      load_examples: false,
      // MWAA pauses new DAGs; locally a deployed DAG must run when triggered without an unpause step.
      dags_are_paused_at_creation: false,
      fernet_key: settings.fernetKey,
      default_timezone: 'utc',
      dagbag_import_timeout: 30,
      // LocalExecutor (line 3) pre-forks this many workers; 4 allows a few servers in parallel.
      parallelism: 4,
      ...(line === '3'
        ? {
            execution_api_server_url: `http://127.0.0.1:${settings.apiPort}/execution/`,
            // Real authentication: the web login's JWT comes from this user's password.
            simple_auth_manager_all_admins: false,
            simple_auth_manager_users: `${WEB_USER.username}:${WEB_USER.simpleRole}`,
            simple_auth_manager_passwords_file: passwordsFile(dirname(info.dagsFolder)),
          }
        : {}),
    },
    database: {
      sql_alchemy_conn: info.sqlAlchemyConn,
      load_default_connections: false,
    },
    logging: {
      base_log_folder: info.logsFolder,
      // Fixed per stack instead of 8793/8794, so several stacks (and other Airflows) can coexist.
      worker_log_server_port: settings.workerLogServerPort,
      trigger_log_server_port: settings.triggerLogServerPort,
    },
    scheduler: {
      scheduler_heartbeat_sec: 2,
      ...(line === '2' ? { dag_dir_list_interval: 5, min_file_process_interval: MIN_FILE_PROCESS_INTERVAL_S, parsing_processes: 1 } : {}),
    },
    webserver: {
      secret_key: settings.secretKey,
      ...(line === '2'
        ? {
            web_server_host: '127.0.0.1',
            web_server_port: settings.apiPort,
            base_url: `http://127.0.0.1:${settings.apiPort}`,
            // One gunicorn worker, never recycled: a 2-core machine runs the whole stack.
            workers: 1,
            worker_refresh_batch_size: 0,
            warn_deployment_exposure: false,
          }
        : {}),
    },
    ...(line === '3'
      ? {
          api: { host: '127.0.0.1', port: settings.apiPort, workers: 1, secret_key: settings.secretKey },
          api_auth: { jwt_secret: settings.jwtSecret },
          dag_processor: { refresh_interval: 5, min_file_process_interval: MIN_FILE_PROCESS_INTERVAL_S, parsing_processes: 1 },
        }
      : {}),
  };
  const lines = ['# Written by `npm run local -- up` (local-stack/src/airflow-home.ts); rewritten on every up.'];
  for (const [section, values] of Object.entries(sections)) {
    lines.push('', `[${section}]`);
    for (const [key, value] of Object.entries(values)) {
      lines.push(`${key} = ${typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Airflow 2's webserver_config.py: Airflow's default (database authentication, CSRF on) without the
 * login form's rate limit (Flask-AppBuilder's 5 per 40 s). The control plane signs in through that
 * form for every MWAA web login (POST /aws_mwaa/login, control-plane/airflow-login.ts); MWAA's own
 * login view signs the user in without the form, so a few clients logging in at once never get
 * 429 from MWAA, and must not here.
 */
const WEBSERVER_CONFIG = `# Written by \`npm run local -- up\` (local-stack/src/airflow-home.ts); rewritten on every up.
from __future__ import annotations

from flask_appbuilder.const import AUTH_DB

WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
AUTH_TYPE = AUTH_DB
AUTH_RATE_LIMITED = False
`;

/**
 * How often an unchanged DAG file is parsed again. Airflow's default (and MWAA's) is 30 s; 5 here,
 * with the serialized-DAG intervals below, lets a changed DAG run seconds after its upload.
 */
const MIN_FILE_PROCESS_INTERVAL_S = 5;

/**
 * The local environment is created with the AirflowConfigurationOptions a user who wants changed
 * DAGs live fast would give theirs: Airflow stores a parsed DAG serialized at most every 30 s and
 * Airflow 2's scheduler keeps its copy 10 s by default; here 3 s. They are options of the
 * environment, not of airflow.cfg, so GetEnvironment shows them and the deployer reads them as it
 * does on MWAA (src/deployer/dag-run.ts); UpdateEnvironment replaces them as MWAA does.
 */
export function localConfigurationOptions(line: AirflowLine): Record<string, string> {
  return {
    'core.min_serialized_dag_fetch_interval': '3',
    'core.min_serialized_dag_update_interval': '3',
    [`${line === '2' ? 'scheduler' : 'dag_processor'}.min_file_process_interval`]: String(MIN_FILE_PROCESS_INTERVAL_S),
  };
}

const PORT_KEYS = ['apiPort', 'workerLogServerPort', 'triggerLogServerPort'] as const;

/**
 * Airflow's ports are chosen once per AIRFLOW_HOME and kept (stable URLs across restarts), but
 * while the stack is down another program may take one: another stack's api-server, typically,
 * whose health check would then answer for this stack's. Called before this stack's Airflow
 * starts (never while it runs: it holds them), it replaces each port that is no longer free and
 * rewrites airflow.cfg. Returns the home's info and the ports it moved.
 */
export async function moveTakenPorts(
  airflowHome: string,
  line: AirflowLine,
  isFree: (port: number) => Promise<boolean> = portIsFree,
): Promise<{ info: AirflowHomeInfo; moved: string[] }> {
  const settings = await loadOrCreateSettings(airflowHome);
  const moved: string[] = [];
  for (const key of PORT_KEYS) {
    if (await isFree(settings[key])) continue;
    const port = await freePort();
    moved.push(`${key} ${settings[key]} → ${port}`);
    settings[key] = port;
  }
  const info = homeInfo(airflowHome, line, settings);
  if (moved.length > 0) {
    writeJsonAtomic(join(airflowHome, SETTINGS_FILE), settings);
    writeFileSync(join(airflowHome, 'airflow.cfg'), renderAirflowCfg(line, info, settings));
  }
  return { info, moved };
}

/** Writes airflow.cfg and the folders; migrates the DB unless this lock already migrated it. */
export async function prepareAirflowHome(options: {
  airflowHome: string;
  line: AirflowLine;
  venvBin: string;
  lockHash: string;
  log: string;
}): Promise<{ info: AirflowHomeInfo; settings: AirflowSettings; migrated: boolean; fromTemplate: boolean }> {
  const { airflowHome } = options;
  mkdirSync(airflowHome, { recursive: true });
  const settings = await loadOrCreateSettings(airflowHome);
  const info = homeInfo(airflowHome, options.line, settings);
  for (const dir of [info.dagsFolder, info.pluginsFolder, info.logsFolder]) mkdirSync(dir, { recursive: true });
  const cfgPath = join(airflowHome, 'airflow.cfg');
  const cfg = renderAirflowCfg(options.line, info, settings);
  if (!existsSync(cfgPath) || readFileSync(cfgPath, 'utf8') !== cfg) writeFileSync(cfgPath, cfg);

  if (options.line === '2') {
    const webserverConfig = join(airflowHome, 'webserver_config.py');
    if (!existsSync(webserverConfig) || readFileSync(webserverConfig, 'utf8') !== WEBSERVER_CONFIG)
      writeFileSync(webserverConfig, WEBSERVER_CONFIG);
  }
  if (options.line === '3') {
    writeFileSync(passwordsFile(airflowHome), `${JSON.stringify({ [WEB_USER.username]: settings.webPassword })}\n`, { mode: 0o600 });
  }

  const env = airflowCliEnv(airflowHome, options.venvBin);
  const marker = join(airflowHome, MIGRATED_MARKER);
  const dbFile = join(airflowHome, 'airflow.db');
  const migrated = !(existsSync(dbFile) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === options.lockHash);
  let permissionsSynced = false;
  let fromTemplate = false;
  if (migrated) {
    const template = dbTemplatePath(options.venvBin, options.lockHash);
    // A new home starts from the venv's migrated DB when there is one: a second stack sharing the
    // venvs skips the migration (most of a throw-away stack's start-up on a small machine).
    if (!existsSync(dbFile) && existsSync(template)) {
      copyFileSync(template, dbFile);
      permissionsSynced = true;
      fromTemplate = true;
    } else {
      const fresh = !existsSync(dbFile);
      await runLogged(join(options.venvBin, 'airflow'), ['db', 'migrate'], { log: options.log, env });
      if (options.line === '2') {
        // Flask-AppBuilder keeps roles and permissions in the metadata DB: its default roles (Op
        // among them) exist once permissions are synced.
        await runLogged(join(options.venvBin, 'airflow'), ['sync-perm'], { log: options.log, env });
        permissionsSynced = true;
      }
      if (fresh) saveDbTemplate(dbFile, template);
    }
    writeFileSync(marker, `${options.lockHash}\n`);
  }
  const userMarker = join(airflowHome, WEB_USER_MARKER);
  const userStamp = `${options.lockHash} ${WEB_USER.username}`;
  if (options.line === '2' && !(existsSync(userMarker) && readFileSync(userMarker, 'utf8').trim() === userStamp)) {
    // "already exist" is not an error for the user.
    if (!permissionsSynced) await runLogged(join(options.venvBin, 'airflow'), ['sync-perm'], { log: options.log, env });
    await runLogged(
      join(options.venvBin, 'airflow'),
      [
        'users',
        'create',
        '--username',
        WEB_USER.username,
        // One token: a generated password may start with "-", which argparse would read as an option.
        `--password=${settings.webPassword}`,
        '--role',
        WEB_USER.fabRole,
        '--email',
        `${WEB_USER.username}@localhost`,
        '--firstname',
        'MWAA',
        '--lastname',
        'Op',
      ],
      { log: options.log, env },
    );
    writeFileSync(userMarker, `${userStamp}\n`);
  }
  return { info, settings, migrated, fromTemplate };
}

/**
 * A freshly migrated metadata DB (and, on line 2, its synced roles), kept in the venv it was
 * migrated with. It holds no stack's data: no users, no DAGs, no secrets (the Fernet key encrypts
 * nothing yet), no paths or ports. Removed with the venv when the lock changes.
 */
export function dbTemplatePath(venvBin: string, lockHash: string): string {
  return join(dirname(venvBin), `.mwaa-local-airflow-db-${lockHash.slice(0, 16)}.sqlite`);
}

/** Copied under a temporary name, then renamed: a stack copying it never sees half a file. */
function saveDbTemplate(dbFile: string, template: string): void {
  const tmp = `${template}.${process.pid}.tmp`;
  try {
    copyFileSync(dbFile, tmp);
    renameSync(tmp, template);
  } catch {
    // Only a shortcut for the next stack: without it, that stack migrates its own DB.
    rmSync(tmp, { force: true });
  }
}

/** Environment for an `airflow` command of this stack: its home, its venv first on PATH. */
export function airflowCliEnv(airflowHome: string, venvBin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AIRFLOW__')) env[key] = value;
  env.AIRFLOW_HOME = airflowHome;
  env.PATH = `${venvBin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  env.PYTHONUNBUFFERED = '1';
  return env;
}

/**
 * What every Airflow process of the stack gets on top of its normal env (goes to state.airflow.env).
 * Its tasks reach moto through AWS_ENDPOINT_URL, and MWAA (Apache's MwaaHook and
 * MwaaTriggerDagRunOperator in a DAG) the way an MWAA environment's workers reach the MWAA API:
 * through the documented settings `local env` prints for any client, the service's endpoint
 * (AWS_ENDPOINT_URL_MWAA wins over AWS_ENDPOINT_URL), the CA bundle (botocore's, and requests' for
 * MwaaHook's web login), and botocore's switch for MWAA's `api.` host prefix.
 */
export function stackAirflowEnv(input: {
  airflowHome: string;
  motoUrl: string;
  region: string;
  mwaaEndpoint: string;
  caBundle: string;
}): Record<string, string> {
  return {
    AIRFLOW_HOME: input.airflowHome,
    AWS_ENDPOINT_URL: input.motoUrl,
    AWS_ENDPOINT_URL_MWAA: input.mwaaEndpoint,
    AWS_CA_BUNDLE: input.caBundle,
    REQUESTS_CA_BUNDLE: input.caBundle,
    AWS_DISABLE_HOST_PREFIX_INJECTION: 'true',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: input.region,
    AWS_REGION: input.region,
    NO_PROXY: '127.0.0.1,localhost',
    PYTHONUNBUFFERED: '1',
  };
}
