/**
 * Commands run from a subdirectory of a project find its config as git finds its repository: the
 * nearest directory at or above the working directory that has config/config.yaml, not past the
 * top of a git work tree (a directory with .git) nor the filesystem root. The command then runs in
 * that directory, so dist-artifacts/ and .local-stack/ are the project's own; relative paths given
 * on the command line keep meaning what they meant where the user typed them.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../config/default-path.js';

/** The nearest directory from `start` upwards with the default config; undefined when none. */
export function findProjectRoot(start: string, exists: (path: string) => boolean = existsSync): string | undefined {
  for (let dir = resolve(start), depth = 0; depth < 256; depth += 1) {
    if (exists(join(dir, DEFAULT_CONFIG_PATH))) return dir;
    const parent = dirname(dir);
    if (parent === dir || exists(join(dir, '.git'))) return undefined;
    dir = parent;
  }
  return undefined;
}

/** Options whose values are paths: made absolute before the working directory changes. */
const PATH_OPTIONS = ['out', 'airflow-python'];

/** Commands that work where they are run: init writes a new project there. */
const STAYS = new Set(['init', 'completion']);

/**
 * The argv to run with, after moving to the project root when the config is above the working
 * directory and no --config was given; `chdir` is process.chdir (injected for tests).
 */
export function enterProjectRoot(argv: readonly string[], cwd: string, chdir: (dir: string) => void = process.chdir): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const before = argv.slice(0, end);
  const command = before.find((arg) => !arg.startsWith('-'));
  const hasConfig = before.some((arg) => arg === '--config' || arg.startsWith('--config='));
  if (hasConfig || (command !== undefined && STAYS.has(command)) || existsSync(join(cwd, DEFAULT_CONFIG_PATH))) return [...argv];
  const root = findProjectRoot(cwd);
  if (root === undefined || root === cwd) return [...argv];
  const absolute = (value: string) => (value === '' || isAbsolute(value) ? value : resolve(cwd, value));
  const out = argv.map((arg, i) => {
    if (i >= end) return arg;
    const [name, value] =
      arg.startsWith('--') && arg.includes('=') ? [arg.slice(2, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [];
    if (name !== undefined && value !== undefined && PATH_OPTIONS.includes(name)) return `--${name}=${absolute(value)}`;
    const previous = argv[i - 1];
    if (i > 0 && previous !== undefined && PATH_OPTIONS.some((o) => previous === `--${o}`) && !arg.startsWith('-')) return absolute(arg);
    return arg;
  });
  chdir(root);
  return out;
}
