/**
 * Shell completion: `completion bash|zsh|fish` prints the script for that shell (default: the
 * login shell's, from $SHELL). yargs writes the bash and zsh scripts; fish gets its own, which
 * passes the program name first as the others do (yargs' fish script leaves it out). The script
 * asks the CLI itself (`--get-yargs-completions`): through `npx --no-install` when the script was
 * printed through npx, so npx users complete too (README, "Shell completion"). `--env` completes
 * with the environment names of the project's config.
 */
import { join } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../config/default-path.js';
import { ExitCode, UserError } from '../errors.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];
const NAME = 'mwaa-gpu-cicd';

export function chosenShell(given: string | undefined, env: NodeJS.ProcessEnv = process.env): Shell {
  const name = given ?? env.SHELL?.split('/').pop();
  if (name && (SHELLS as readonly string[]).includes(name)) return name as Shell;
  throw new UserError(
    given === undefined
      ? `Name the shell: ${NAME} completion ${SHELLS.join('|')} (your $SHELL, ${env.SHELL ?? 'unset'}, is none of them).`
      : `completion takes one of ${SHELLS.join(', ')}; got "${given}".`,
    ExitCode.usage,
  );
}

/** How the script runs the CLI: the command on PATH, or npx within the project that has it. */
export function completionCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_command === 'exec' ? `npx --no-install ${NAME}` : NAME;
}

function fishScript(command: string): string {
  const fn = `__${NAME.replaceAll('-', '_')}_complete`;
  return [
    `###-begin-${NAME}-completions-###`,
    `# Installation: ${command} completion fish > ~/.config/fish/completions/${NAME}.fish`,
    `function ${fn}`,
    '    set -l words (commandline -opc) (commandline -ct)',
    `    ${command} --get-yargs-completions $words 2>/dev/null`,
    'end',
    `complete -f -c ${NAME} -a '(${fn})'`,
    `###-end-${NAME}-completions-###`,
    '',
  ].join('\n');
}

/** yargs' script for bash or zsh (it picks the template from $SHELL), pointed at `command`. */
async function yargsScript(shell: 'bash' | 'zsh', command: string): Promise<string> {
  const { default: yargs } = await import('yargs');
  const saved = { SHELL: process.env.SHELL, ZSH_NAME: process.env.ZSH_NAME, log: console.log };
  let script = '';
  try {
    process.env.SHELL = `/bin/${shell}`;
    delete process.env.ZSH_NAME;
    // yargs prints the script with console.log; it is taken here to point it at `command`.
    console.log = (text: unknown) => {
      script += String(text);
    };
    yargs([]).scriptName(NAME).completion('completion').showCompletionScript();
  } finally {
    console.log = saved.log;
    if (saved.SHELL === undefined) delete process.env.SHELL;
    else process.env.SHELL = saved.SHELL;
    if (saved.ZSH_NAME !== undefined) process.env.ZSH_NAME = saved.ZSH_NAME;
  }
  return `${script.replaceAll(`${NAME} --get-yargs-completions`, `${command} --get-yargs-completions`).trimEnd()}\n`;
}

export async function completionScript(shell: Shell, command = completionCommand()): Promise<string> {
  return shell === 'fish' ? fishScript(command) : yargsScript(shell, command);
}

/**
 * The environment names to offer after `--env`: those of the config (--config if given on the line,
 * else the default), read leniently; none when it cannot be read.
 */
export async function environmentNames(words: readonly string[]): Promise<string[]> {
  const at = words.indexOf('--config');
  const given = at >= 0 ? words[at + 1] : undefined;
  try {
    const { findProjectRoot } = await import('./project-root.js');
    const root = given === undefined ? findProjectRoot(process.cwd()) : undefined;
    const configPath = given ?? (root ? join(root, DEFAULT_CONFIG_PATH) : undefined);
    const { readConfigFile, environmentNames: names } = await import('../config/load.js');
    return names(await readConfigFile(configPath ? { configPath } : {}));
  } catch {
    return [];
  }
}
