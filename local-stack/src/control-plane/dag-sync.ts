/**
 * Mirrors s3://<bucket>/<dagS3Path>/ into Airflow's dags folder, as MWAA does about every 30 s:
 * additions, changes and deletions. Only files whose ETag/size changed are written, each through
 * a temp file and a rename so the DAG processor never parses a half-written file.
 *
 * MWAA promises no order within a sync. `dag-files-first` plays the worst one for a DAG that
 * imports other files of the folder: the DAG files at the folder's top level go first, and every
 * other change (files in subfolders or of other types, deletions) waits `holdMs` after them, then
 * lands in reverse key order (a folder's dot-files last).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ObjectStore } from './s3.js';

export interface SyncResult {
  added: string[];
  updated: string[];
  deleted: string[];
  unchanged: number;
}

interface Known {
  etag: string;
  size: number;
}

export type SyncOrder = { order: 'listing' } | { order: 'dag-files-first'; holdMs: number };

/** What MWAA parses as a DAG file at the top of the folder (a zip there may be a DAG bundle too, but it is not one of ours). */
function isTopLevelDagFile(rel: string): boolean {
  return !rel.includes('/') && rel.endsWith('.py');
}

/** Temp files end like this; a leading dot and no `.py` suffix keep Airflow from parsing them. */
const TMP_SUFFIX = '.cp-sync-tmp';

export class DagSync {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: ObjectStore,
    private readonly dagsDir: string,
    /** Read on every cycle: UpdateEnvironment may change DagS3Path. */
    private readonly prefix: () => string,
    /** Read on every cycle: tests switch it at /_local/behaviour. */
    private readonly order: () => SyncOrder = () => ({ order: 'listing' }),
    private readonly now: () => number = Date.now,
  ) {}

  /** When the last top-level DAG file changed under `dag-files-first` (the others wait for holdMs after it). */
  private dagFilesChangedAt = Number.NEGATIVE_INFINITY;

  async syncOnce(): Promise<SyncResult> {
    const prefix = `${this.prefix().replace(/\/+$/, '')}/`;
    const remote = new Map<string, Known & { key: string }>();
    for (const object of await this.store.list(prefix)) {
      const rel = object.key.slice(prefix.length);
      if (rel === '' || rel.endsWith('/') || !isSafeRelative(rel)) continue;
      remote.set(rel, { key: object.key, etag: object.etag, size: object.size });
    }
    await mkdir(this.dagsDir, { recursive: true });
    const result: SyncResult = { added: [], updated: [], deleted: [], unchanged: 0 };

    const local = new Set(await listFiles(this.dagsDir));
    const writes: Array<[string, Known & { key: string }]> = [];
    for (const [rel, object] of remote) {
      const path = join(this.dagsDir, ...rel.split('/'));
      const present = local.has(rel);
      const seen = this.known.get(rel);
      if (present && seen && seen.etag === object.etag && seen.size === object.size) {
        result.unchanged += 1;
        continue;
      }
      if (present && !seen && (await sameContent(path, object))) {
        this.known.set(rel, { etag: object.etag, size: object.size });
        result.unchanged += 1;
        continue;
      }
      writes.push([rel, object]);
    }
    let deletions = [...local].filter((rel) => !remote.has(rel));
    const order = this.order();
    if (order.order === 'dag-files-first') {
      const dagFiles = writes.filter(([rel]) => isTopLevelDagFile(rel));
      const rest = writes.filter(([rel]) => !isTopLevelDagFile(rel)).reverse();
      if (dagFiles.length > 0) this.dagFilesChangedAt = this.now();
      const held = dagFiles.length > 0 || this.now() - this.dagFilesChangedAt < order.holdMs;
      writes.splice(0, writes.length, ...dagFiles, ...(held ? [] : rest));
      deletions = held ? [] : deletions.reverse();
    }
    for (const [rel, object] of writes) {
      const { body } = await this.store.get(object.key);
      await writeAtomic(join(this.dagsDir, ...rel.split('/')), body);
      this.known.set(rel, { etag: object.etag, size: object.size });
      (local.has(rel) ? result.updated : result.added).push(rel);
    }
    for (const rel of deletions) {
      await unlink(join(this.dagsDir, ...rel.split('/')));
      this.known.delete(rel);
      result.deleted.push(rel);
    }
    if (result.deleted.length > 0) await removeEmptyDirs(this.dagsDir, true);
    return result;
  }
}

function isSafeRelative(rel: string): boolean {
  return !rel.startsWith('/') && !rel.split('/').some((part) => part === '..' || part === '.' || part === '');
}

/** Files under dir, as `/`-separated relative paths; skips __pycache__ and our own temp files. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__pycache__') await walk(full);
      } else if (!entry.name.endsWith(TMP_SUFFIX)) {
        out.push(relative(dir, full).split(sep).join('/'));
      }
    }
  }
  await walk(dir);
  return out;
}

/** Single-part ETags are the body's MD5; multipart ones (`<md5>-<n>`) cannot be compared. */
async function sameContent(path: string, object: Known): Promise<boolean> {
  const info = await stat(path);
  if (info.size !== object.size || object.etag.includes('-')) return false;
  const md5 = createHash('md5')
    .update(await readFile(path))
    .digest('hex');
  return md5 === object.etag;
}

export async function writeAtomic(path: string, body: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}${TMP_SUFFIX}`);
  await writeFile(tmp, body, { mode: 0o644 });
  await rename(tmp, path);
}

async function removeEmptyDirs(dir: string, isRoot: boolean): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true });
  let empty = true;
  for (const entry of entries) {
    if (entry.isDirectory() && (await removeEmptyDirs(join(dir, entry.name), false))) continue;
    empty = false;
  }
  if (empty && !isRoot) {
    await rmdir(dir);
    return true;
  }
  return false;
}
