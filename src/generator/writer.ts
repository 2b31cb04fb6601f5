/**
 * Writes one environment's artifacts as a whole: everything goes into a temporary sibling
 * directory, which then replaces the old one by rename. A failed run leaves the previous
 * artifacts untouched, and files that a run no longer generates disappear.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export interface OutputFile {
  path: string;
  bytes: Buffer;
}

export async function writeDirectoryAtomically(targetDir: string, files: OutputFile[]): Promise<void> {
  const parent = dirname(targetDir);
  await mkdir(parent, { recursive: true });
  const base = targetDir.slice(parent.length + 1);
  const staging = join(parent, `.${base}.tmp-${process.pid}`);
  const retired = join(parent, `.${base}.old-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    for (const file of files) {
      const destination = join(staging, file.path);
      await mkdir(dirname(destination), { recursive: true });
      await writeFile(destination, file.bytes, { mode: 0o644 });
    }
    let hadPrevious = true;
    try {
      await rename(targetDir, retired);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      hadPrevious = false;
    }
    await rename(staging, targetDir);
    if (hadPrevious) await rm(retired, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
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
  return Promise.all(
    entries.sort().map(async (path) => ({ path: relative(dir, path).split(sep).join('/'), bytes: await readFile(path) })),
  );
}
