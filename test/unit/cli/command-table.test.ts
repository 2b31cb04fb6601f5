/**
 * The CLI's one table of commands (src/cli/command-table.ts) is what users read: the top-level
 * --help and each command's --help print its descriptions, the README's command table starts its
 * rows with them, and every command line the documentation shows still runs as written: each of
 * its flags is one the command takes, as the built CLI itself reports them (yargs' completion).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, type CommandName } from '../../../src/cli/command-table.js';
import { repoRoot, runCli } from '../../support/cli.js';

const NAMES = Object.keys(COMMANDS) as CommandName[];

/** Help text with its wrapping undone, to find a description whatever the terminal width. */
function flat(text: string): string {
  return text.replace(/\s+/g, ' ');
}

/** The flags (long names, and single letters) a command takes, as its shell completion lists them. */
function flagsOf(command: CommandName): Set<string> {
  const run = runCli(['--get-yargs-completions', 'mwaa-gpu-cicd', command, '--']);
  expect(run.status, run.stderr).toBe(0);
  return new Set(run.stdout.split('\n').flatMap((line) => (line.startsWith('--') ? [line.slice(2)] : [])));
}

function documents(): string[] {
  const under = (dir: string) =>
    readdirSync(join(repoRoot, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.(md|ya?ml)$/.test(entry.name))
      .map((entry) => join(entry.parentPath, entry.name));
  return [join(repoRoot, 'README.md'), join(repoRoot, 'local-stack/README.md'), ...under('docs'), ...under('examples')];
}

interface Shown {
  where: string;
  command: CommandName;
  words: string[];
}

const INVOCATION = new RegExp(
  `(?:npm run (${NAMES.join('|')})(?: --(?= |$))?|mwaa-gpu-cicd (${NAMES.join('|')})\\b)((?:[ \\t]+[^\\s\`|;&>#"')]+)*)`,
  'g',
);

/** Every command line a document shows: `npm run <command> -- ...` or `[npx] mwaa-gpu-cicd <command> ...`. */
function commandLines(file: string, text: string): Shown[] {
  const shown: Shown[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(INVOCATION)) {
      const words = match[3]!
        .trim()
        .split(/[ \t]+/)
        .filter(Boolean);
      shown.push({ where: `${relative(repoRoot, file)}:${index + 1}`, command: (match[1] ?? match[2]) as CommandName, words });
    }
  });
  return shown;
}

/** The two tests that start the built CLI once per command: a start may take seconds on a loaded machine. */
const CLI_PER_COMMAND_TIMEOUT_MS = 180_000;

describe('the command table', () => {
  it(
    'is what --help prints: the command list and each command of it',
    () => {
      const top = flat(runCli(['--help']).stdout);
      for (const name of NAMES) {
        expect(top).toContain(`mwaa-gpu-cicd ${name} ${COMMANDS[name]}`);
        const own = runCli([name, '--help']);
        expect(own.status, own.stderr).toBe(0);
        expect(flat(own.stdout)).toContain(` ${COMMANDS[name]} `);
      }
    },
    CLI_PER_COMMAND_TIMEOUT_MS,
  );

  it("starts each row of the README's command table, one row per command", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Commands'), readme.indexOf('Exit codes (every command'));
    const rows = table.split('\n').filter((line) => /^\| `(npm run|npx mwaa-gpu-cicd) /.test(line));
    for (const name of NAMES) {
      const row = rows.find((r) => new RegExp(`^\\| \`(npm run|npx mwaa-gpu-cicd) ${name}\\b`).test(r));
      expect(row, name).toBeDefined();
      const said = row!.split(' | ')[1]!.replaceAll('`', '');
      const description = COMMANDS[name];
      expect(said.startsWith(description[0]!.toLowerCase() + description.slice(1)), `${name}: ${said}`).toBe(true);
    }
  });

  it('finds the command lines a document shows', () => {
    expect(
      commandLines('x.md', 'Run `npm run deploy -- --env prod --plan` or\nnpx mwaa-gpu-cicd check --env dev # note\nnpm run generate'),
    ).toEqual([
      { where: 'x.md:1', command: 'deploy', words: ['--env', 'prod', '--plan'] },
      { where: 'x.md:2', command: 'check', words: ['--env', 'dev'] },
      { where: 'x.md:3', command: 'generate', words: [] },
    ]);
  });

  it(
    'takes every flag of every command line the documentation shows',
    () => {
      const flags = new Map(NAMES.map((name) => [name, flagsOf(name)]));
      const shown = documents().flatMap((file) => commandLines(file, readFileSync(file, 'utf8')));
      // The documentation shows every command, many of them often.
      expect(new Set(shown.map((s) => s.command))).toEqual(new Set(NAMES));
      expect(shown.length).toBeGreaterThan(40);
      const unknown: string[] = [];
      for (const { where, command, words } of shown) {
        const known = flags.get(command)!;
        for (const word of words) {
          if (!word.startsWith('-') || word === '--' || word === '-') continue;
          const name = word.replace(/^--?/, '').split('=')[0]!;
          if (!known.has(name) && !(name.startsWith('no-') && known.has(name.slice(3)))) unknown.push(`${where}: ${command} ${word}`);
        }
      }
      expect(unknown).toEqual([]);
    },
    CLI_PER_COMMAND_TIMEOUT_MS,
  );
});
