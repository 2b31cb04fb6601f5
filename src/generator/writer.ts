/**
 * Writes one environment's artifacts as a whole: everything goes into a temporary sibling
 * directory, which then replaces the old one by rename. A failed run leaves the previous
 * artifacts untouched, and files that a run no longer generates disappear.
 */
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { filesystemProblem, isFilesystemError, UserError } from '../errors.js';

export interface OutputFile {
  path: string;
  bytes: Buffer;
}

/** The file operations the writer uses; a test can make one fail at a chosen moment. */
export interface WriterFs {
  rename: (from: string, to: string) => Promise<void>;
}

const realFs: WriterFs = { rename };

/**
 * Creates `dir` and its missing parents one level at a time. (Node's recursive mkdir loops
 * without end under /proc and reports a file in the way as EEXIST.) Errors name the directory.
 */
export async function ensureDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = resolve(dir);
  for (;;) {
    let info;
    try {
      info = await stat(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw isFilesystemError(error) ? filesystemProblem(error, { verb: 'Cannot write to', path: dir }) : error;
      }
      missing.unshift(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
      continue;
    }
    if (!info.isDirectory()) {
      throw new UserError(`Cannot write to ${dir}: ${current} exists and is not a directory. Choose another output directory.`);
    }
    break;
  }
  for (const path of missing) {
    try {
      await mkdir(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw isFilesystemError(error) ? filesystemProblem(error, { verb: 'Cannot write to', path: dir }) : error;
    }
  }
}

export async function writeDirectoryAtomically(targetDir: string, files: OutputFile[], fs: WriterFs = realFs): Promise<void> {
  const parent = dirname(targetDir);
  await ensureDirectory(parent);
  const base = targetDir.slice(parent.length + 1);
  const staging = join(parent, `.${base}.tmp-${process.pid}`);
  const retired = join(parent, `.${base}.old-${process.pid}`);
  try {
    await rm(staging, { recursive: true, force: true });
    for (const file of files) {
      const destination = join(staging, file.path);
      await mkdir(dirname(destination), { recursive: true });
      await writeFile(destination, file.bytes, { mode: 0o644 });
    }
    let hadPrevious = true;
    try {
      await fs.rename(targetDir, retired);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      hadPrevious = false;
    }
    try {
      await fs.rename(staging, targetDir);
    } catch (error) {
      // Put the previous artifacts back: a failed write never leaves the directory missing.
      if (hadPrevious) await fs.rename(retired, targetDir);
      throw error;
    }
    if (hadPrevious) await rm(retired, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw isFilesystemError(error) ? filesystemProblem(error, { verb: 'Cannot write', path: targetDir }) : error;
  }
}

/** Every file under `dir`, relative, with forward slashes; empty when `dir` is missing. */
export async function readDirectoryFiles(dir: string): Promise<OutputFile[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(entries.sort().map(async (path) => ({ path: relative(dir, path).split(sep).join('/'), bytes: await readFile(path) })));
}
