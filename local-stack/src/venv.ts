/**
 * One Python venv per Airflow version, installed from the version's lock with `--no-deps` so the
 * result is exactly the lock. A marker file holds the hash of what was installed: a second `up`
 * with the same lock and Python costs nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { run, runLogged } from './processes.js';

const MARKER = '.mwaa-local-lock.sha256';
/** Bump when the way a venv is built changes, so old venvs get rebuilt. */
const RECIPE = 'venv-recipe-1';

export interface PythonInfo {
  executable: string;
  /** Full version, e.g. 3.12.1. */
  version: string;
  /** Major.minor, e.g. 3.12: which lock applies. */
  minor: string;
  /** Set when this is not the Python MWAA pairs with the Airflow version: why, for the user. */
  fallbackNote?: string;
}

/** Runs `executable` and returns its version when it is a CPython with a working venv module. */
export type PythonProbe = (executable: string) => Promise<string>;

const probeInterpreter: PythonProbe = async (executable) => {
  // The venv module must work too (Debian splits it into python3.x-venv).
  const { stdout } = await run(executable, ['-c', 'import platform, venv, ensurepip; print(platform.python_version())']);
  return stdout.trim();
};

function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * The interpreter for the stack: MWAA's Python for the Airflow version (`wanted`) when it can be
 * found, else `fallback` with a note saying so. `$MWAA_LOCAL_PYTHON` names the interpreter outright
 * (it must be one of the two); otherwise `python<X.Y>` on PATH, then pyenv's versions directory
 * (`$PYENV_ROOT` or ~/.pyenv), which a CI shell without pyenv's shims does not have on PATH.
 */
export async function findPython(
  env: NodeJS.ProcessEnv,
  wanted: string,
  fallback: string,
  probe: PythonProbe = probeInterpreter,
): Promise<PythonInfo> {
  const tried: string[] = [];
  const attempt = async (executable: string): Promise<string | undefined> => {
    try {
      const version = await probe(executable);
      tried.push(`${executable} (Python ${version})`);
      return version;
    } catch {
      tried.push(`${executable} (not usable)`);
      return undefined;
    }
  };
  const note = (version: string, why: string) =>
    `running Airflow on Python ${version}, not ${wanted} as MWAA does: ${why}. Install Python ${wanted} ` +
    `(e.g. pyenv install ${wanted}) or point MWAA_LOCAL_PYTHON at a python${wanted} for MWAA's pairing.`;

  if (env.MWAA_LOCAL_PYTHON) {
    const executable = env.MWAA_LOCAL_PYTHON;
    const version = await attempt(executable);
    if (version !== undefined && minorOf(version) === wanted) return { executable, version, minor: wanted };
    if (version !== undefined && minorOf(version) === fallback) {
      return {
        executable,
        version,
        minor: fallback,
        fallbackNote: note(version, `MWAA_LOCAL_PYTHON (${executable}) is Python ${version}`),
      };
    }
  } else {
    for (const minor of [wanted, fallback]) {
      for (const executable of [`python${minor}`, ...pyenvPythons(env, minor)]) {
        const version = await attempt(executable);
        if (version === undefined || minorOf(version) !== minor) continue;
        if (minor === wanted) return { executable, version, minor };
        return {
          executable,
          version,
          minor,
          fallbackNote: note(version, `no Python ${wanted} on PATH or in pyenv (tried: ${tried.join(', ')})`),
        };
      }
    }
  }
  throw new UserError(
    `No Python ${wanted} (or ${fallback}) with venv found (tried: ${tried.join(', ')}). Install it (e.g. pyenv install ${wanted}) ` +
      `or point MWAA_LOCAL_PYTHON at a python${wanted} executable.`,
  );
}

/** pyenv installs that are not on PATH (e.g. a CI shell without pyenv's shims), newest first. */
function pyenvPythons(env: NodeJS.ProcessEnv, wanted: string): string[] {
  const versionsDir = join(env.PYENV_ROOT || join(env.HOME || homedir(), '.pyenv'), 'versions');
  try {
    return readdirSync(versionsDir)
      .filter((name) => name.startsWith(`${wanted}.`) && /^\d+\.\d+\.\d+$/.test(name))
      .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]))
      .map((name) => join(versionsDir, name, 'bin', `python${wanted}`));
  } catch {
    return [];
  }
}

export function lockHash(lockFile: string, python: PythonInfo): string {
  const hash = createHash('sha256');
  hash.update(RECIPE).update('\0').update(python.version).update('\0').update(readFileSync(lockFile));
  return hash.digest('hex');
}

/** `program`: the venv's entry point that must exist (`airflow` for a line's venv, `aws` for the tools venv). */
export function venvIsCurrent(venvDir: string, hash: string, program = 'airflow'): boolean {
  try {
    return readFileSync(join(venvDir, MARKER), 'utf8').trim() === hash && existsSync(join(venvDir, 'bin', program));
  } catch {
    return false;
  }
}

/**
 * uv's settings from pip's, for what a machine may have set for pip (a mirror, a wheel folder, a
 * CA bundle, a timeout): uv reads none of pip's. What the user set for uv itself wins. uv trusts
 * the system's certificate store as pip does (uv's default is its own copy of Mozilla's roots,
 * which has no corporate proxy's CA: the index is then refused as "UnknownIssuer").
 */
export function uvEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const fromPip: Array<[pip: string, uv: string]> = [
    ['PIP_INDEX_URL', 'UV_DEFAULT_INDEX'],
    ['PIP_EXTRA_INDEX_URL', 'UV_INDEX'],
    ['PIP_FIND_LINKS', 'UV_FIND_LINKS'],
    ['PIP_CERT', 'SSL_CERT_FILE'],
    ['PIP_DEFAULT_TIMEOUT', 'UV_HTTP_TIMEOUT'],
  ];
  const out: NodeJS.ProcessEnv = { ...env, UV_NO_PROGRESS: '1', UV_PYTHON_DOWNLOADS: 'never' };
  for (const [pip, uv] of fromPip) if (env[pip] && !env[uv]) out[uv] = env[pip];
  if (env.UV_SYSTEM_CERTS === undefined && env.UV_NATIVE_TLS === undefined) out.UV_SYSTEM_CERTS = '1';
  return out;
}

/**
 * Builds the venv unless the marker says it already matches the lock. With `installer` (the uv
 * executable of the installer venv) the lock is installed by uv, else by the venv's own pip; both
 * install exactly the lock (`--no-deps`) and compile bytecode, as Airflow is imported by many
 * processes and PYTHONDONTWRITEBYTECODE may be set.
 */
export async function ensureVenv(options: {
  python: PythonInfo;
  venvDir: string;
  lockFile: string;
  log: string;
  /** The entry point the lock installs (default `airflow`). */
  program?: string;
  /** uv's executable; without it, pip installs. */
  installer?: string;
}): Promise<{ cached: boolean; hash: string }> {
  if (!existsSync(options.lockFile)) throw new Error(`lock file missing: ${options.lockFile}`);
  const hash = lockHash(options.lockFile, options.python);
  if (venvIsCurrent(options.venvDir, hash, options.program)) return { cached: true, hash };

  // A venv cannot be moved (scripts carry absolute shebangs), so it is rebuilt in place; the marker
  // is written last, so an interrupted build is simply rebuilt next time.
  rmSync(options.venvDir, { recursive: true, force: true });
  await runLogged(options.python.executable, ['-m', 'venv', options.venvDir], { log: options.log });
  const python = join(options.venvDir, 'bin', 'python');
  if (options.installer) {
    await runLogged(
      options.installer,
      ['pip', 'install', '--python', python, '--no-deps', '--compile-bytecode', '--link-mode', 'copy', '-r', options.lockFile],
      { log: options.log, env: uvEnvironment(process.env) },
    );
  } else {
    const pipEnv = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    await runLogged(python, ['-m', 'pip', 'install', '--no-deps', '--progress-bar', 'off', '-r', options.lockFile], {
      log: options.log,
      env: pipEnv,
    });
  }
  writeFileSync(join(options.venvDir, MARKER), `${hash}\n`);
  return { cached: false, hash };
}

/** The installer venv (uv, from its lock, installed by pip) and the path of its `uv`. */
export async function ensureInstaller(options: {
  python: PythonInfo;
  venvDir: string;
  lockFile: string;
  log: string;
}): Promise<{ cached: boolean; hash: string; uv: string }> {
  const result = await ensureVenv({ ...options, program: 'uv' });
  return { ...result, uv: join(options.venvDir, 'bin', 'uv') };
}
