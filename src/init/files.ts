/**
 * How `init` puts its files in place without harming what is there: nothing is overwritten
 * without --force, and nothing is written through a symbolic link (each file is written beside
 * its target and renamed over it, which replaces a link instead of following it).
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { ExitCode, UserError } from '../errors.js';

export interface Existing {
  /** For messages: " (a symbolic link to X)", or "" for anything else. */
  note: string;
  link: boolean;
}

/** What is at `path`, without following a link; undefined when nothing is (not even a dangling link). */
export function existingAt(path: string): Existing | undefined {
  try {
    const stat = lstatSync(path);
    return stat.isSymbolicLink() ? { note: ` (a symbolic link to ${readlinkSync(path)})`, link: true } : { note: '', link: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes `bytes` to a new file beside `path`, for a rename into place; `wx` refuses a name that
 * exists already, a link included. Returns the file's path.
 */
export function writeBeside(path: string, bytes: string | Buffer): string {
  const temporary = `${path}.init-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, bytes, { mode: 0o644, flag: 'wx' });
  return temporary;
}

/** Refuses a config file that is there already (a link counts, dangling or not) unless forced. */
export function refuseExistingConfig(path: string, shown: string, force: boolean): void {
  const there = existingAt(path);
  if (!there || force) return;
  const how = there.link ? ' (the link itself; what it points to is left alone)' : '';
  throw new UserError(`${shown} already exists${there.note}. Edit it, or pass --force to replace it${how}.`, ExitCode.usage);
}

/**
 * Whether the schema copy at `path` needs writing: not when the same bytes are there as a plain
 * file; a different file or a link there is refused unless forced (before anything is written).
 */
export function schemaCopyNeeded(path: string, shown: string, bytes: Buffer, force: boolean): boolean {
  const there = existingAt(path);
  if (!there) return true;
  if (!there.link && sameBytes(path, bytes)) return false;
  if (force) return true;
  throw new UserError(
    `${shown} already exists${there.note || ' and differs from the schema of this version'}. Nothing was written. ` +
      'Move it away, or pass --force to replace it (and the config).',
    ExitCode.usage,
  );
}

function sameBytes(path: string, bytes: Buffer): boolean {
  try {
    return readFileSync(path).equals(bytes);
  } catch {
    return false;
  }
}
