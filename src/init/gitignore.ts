/**
 * The lines `init` makes sure a project's .gitignore has: the generated artifacts and the local
 * stack's home (venvs, logs, keys) are never committed. It appends what is missing, keeps what is
 * there, and counts `dist-artifacts`, `/dist-artifacts` and `dist-artifacts/` as the same entry.
 */
import { readFileSync, renameSync } from 'node:fs';
import { existingAt, writeBeside } from './files.js';

export const IGNORED_DIRECTORIES = ['dist-artifacts/', '.local-stack/'] as const;

function normalised(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/$/, '');
}

/** The new text of a .gitignore (undefined: nothing to add). `existing` undefined: no file yet. */
export function withIgnored(existing: string | undefined, entries: readonly string[] = IGNORED_DIRECTORIES): string | undefined {
  const present = new Set((existing ?? '').split(/\r?\n/).map(normalised));
  const missing = entries.filter((entry) => !present.has(normalised(entry)));
  if (missing.length === 0) return undefined;
  const head = existing === undefined || existing === '' ? '' : existing.endsWith('\n') ? existing : `${existing}\n`;
  return `${head}${missing.join('\n')}\n`;
}

/**
 * Adds the missing entries to the .gitignore at `path`, written beside it and renamed into place
 * (never through a link). Returns the entries added.
 */
export function ensureIgnored(path: string, entries: readonly string[] = IGNORED_DIRECTORIES): string[] {
  const there = existingAt(path);
  const existing = there && !there.link ? readFileSync(path, 'utf8') : undefined;
  if (there?.link) return [];
  const text = withIgnored(existing, entries);
  if (text === undefined) return [];
  renameSync(writeBeside(path, text), path);
  const present = new Set((existing ?? '').split(/\r?\n/).map(normalised));
  return entries.filter((entry) => !present.has(normalised(entry)));
}
