/**
 * Installs a plugins.zip into Airflow's plugins folder the way a safe update must: extract to a
 * staging directory, import every top-level module with the venv's Python, and only then swap it
 * in. `<airflowHome>/plugins` is a symlink to `plugins-releases/<id>`, replaced by one rename,
 * so Airflow sees either the old or the new release, never a mix; a failed check leaves the old
 * release live.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runProgram } from '../processes.js';
import { CHECK_IMPORTS, EXTRACT_ZIP } from './python-scripts.js';

export class PluginsRejectedError extends Error {
  constructor(
    readonly errorCode: 'PLUGINS_INVALID_ZIP' | 'PLUGINS_IMPORT_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'PluginsRejectedError';
  }
}

export interface PluginsInstallerOptions {
  airflowHome: string;
  python: string;
  /** Environment for the import check (AIRFLOW_HOME, AWS endpoint, ...). */
  env: () => NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface StagedPlugins {
  releaseId: string;
  dir: string;
  modules: string[];
}

export class PluginsInstaller {
  readonly liveLink: string;
  readonly releasesDir: string;

  constructor(private readonly options: PluginsInstallerOptions) {
    this.liveLink = join(options.airflowHome, 'plugins');
    this.releasesDir = join(options.airflowHome, 'plugins-releases');
  }

  /** Extracts and checks the zip; nothing live changes. Throws PluginsRejectedError. */
  async stage(zip: Buffer): Promise<StagedPlugins> {
    const releaseId = `r-${randomBytes(6).toString('hex')}`;
    const dir = join(this.releasesDir, releaseId);
    const zipPath = `${dir}.zip`;
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(zipPath, zip);
      const timeoutMs = this.options.timeoutMs ?? 120_000;
      const extracted = await runProgram(this.options.python, ['-c', EXTRACT_ZIP, zipPath, dir], {
        env: this.options.env(),
        timeoutMs,
      });
      if (extracted.code !== 0) {
        throw new PluginsRejectedError('PLUGINS_INVALID_ZIP', `plugins.zip could not be extracted: ${lastLine(extracted.stderr)}`);
      }
      const checked = await runProgram(this.options.python, ['-c', CHECK_IMPORTS, dir], {
        cwd: dir,
        // Airflow, if a plugin imports it, must load plugins from the staging dir, not the live one.
        env: { ...this.options.env(), AIRFLOW__CORE__PLUGINS_FOLDER: dir },
        timeoutMs,
      });
      const report = parseReport(checked.stdout.toString('utf8'));
      if (checked.code !== 0 || !report) {
        const detail = report?.failures.map((f) => `${f.module}: ${f.error}`).join('; ') || lastLine(checked.stderr);
        throw new PluginsRejectedError('PLUGINS_IMPORT_FAILED', `plugins.zip does not import: ${detail}`);
      }
      await rm(join(dir, '__pycache__'), { recursive: true, force: true });
      return { releaseId, dir, modules: report.modules };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    } finally {
      await rm(zipPath, { force: true });
    }
  }

  /** Makes a staged release live with one rename, then drops releases no longer referenced. */
  async activate(staged: StagedPlugins): Promise<void> {
    await this.adoptPlainDirectory();
    const tmpLink = join(this.options.airflowHome, `.plugins-${staged.releaseId}.link`);
    await rm(tmpLink, { force: true });
    await symlink(join('plugins-releases', staged.releaseId), tmpLink);
    await rename(tmpLink, this.liveLink);
    await this.pruneReleases(staged.releaseId);
  }

  /** Throws away a staged release that will not go live. */
  async discard(staged: StagedPlugins): Promise<void> {
    await rm(staged.dir, { recursive: true, force: true });
  }

  /** The live release directory name, or undefined while plugins/ is a plain directory or absent. */
  async liveRelease(): Promise<string | undefined> {
    try {
      return basename(await readlink(this.liveLink));
    } catch {
      return undefined;
    }
  }

  /** A plugins/ that is a real directory (as provisioned) becomes the first release. */
  private async adoptPlainDirectory(): Promise<void> {
    let info;
    try {
      info = await lstat(this.liveLink);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (info.isSymbolicLink()) return;
    await mkdir(this.releasesDir, { recursive: true });
    const id = `r-initial-${randomBytes(4).toString('hex')}`;
    await rename(this.liveLink, join(this.releasesDir, id));
    await symlink(join('plugins-releases', id), this.liveLink);
  }

  private async pruneReleases(keep: string): Promise<void> {
    for (const entry of await readdir(this.releasesDir)) {
      if (entry !== keep) await rm(join(this.releasesDir, entry), { recursive: true, force: true });
    }
  }
}

interface ImportReport {
  modules: string[];
  failures: Array<{ module: string; error: string }>;
}

function parseReport(stdout: string): ImportReport | undefined {
  const line = stdout.trim().split('\n').pop();
  if (!line) return undefined;
  try {
    return JSON.parse(line) as ImportReport;
  } catch {
    return undefined;
  }
}

function lastLine(buffer: Buffer): string {
  const lines = buffer.toString('utf8').trim().split('\n');
  return lines[lines.length - 1] ?? '';
}
