/**
 * `completion bash|zsh|fish`: each script is valid for its shell, and bash completion driven
 * through the printed script (bash itself calling the CLI's --get-yargs-completions) offers the
 * commands and, after --env, the config's environment names.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, repoRoot, runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

/** Syntax check of a script by its shell (`-n`: read, do not run). */
function syntaxOk(shell: string, script: string): void {
  const file = join(tmp(), `completion.${shell}`);
  writeFileSync(file, script);
  execFileSync(shell, ['-n', file]);
}

/** What bash offers for `words` (the last one being completed), through the printed script. */
function bashOffers(words: string[], cwd: string): string[] {
  const script = runCli(['completion', 'bash']).stdout;
  const driver = [
    // The program the script calls: the CLI under test.
    `mwaa-gpu-cicd() { ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} "$@"; }`,
    script,
    `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_mwaa-gpu-cicd_yargs_completions',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template.
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  return execFileSync('bash', ['-c', driver], { cwd, encoding: 'utf8', env: { ...process.env, MWAA_LOCAL_HOME: join(cwd, 'none') } })
    .split('\n')
    .filter(Boolean);
}

describe('completion', () => {
  it('bash: a valid script that completes commands, options and --env names from the config above', () => {
    const script = runCli(['completion', 'bash']);
    expect(script.status, script.stderr).toBe(0);
    syntaxOk('bash', script.stdout);
    expect(bashOffers(['mwaa-gpu-cicd', 'dep'], repoRoot)).toEqual(['deploy']);
    expect(bashOffers(['mwaa-gpu-cicd', 'deploy', '--pl'], repoRoot)).toEqual(['--plan']);
    expect(bashOffers(['mwaa-gpu-cicd', 'deploy', '--env', ''], repoRoot)).toEqual(['dev', 'local', 'prod']);
    const project = tmp();
    expect(runCli(['init', '--env', 'staging'], { cwd: project }).status).toBe(0);
    const deep = join(project, 'a/b');
    mkdirSync(deep, { recursive: true });
    expect(bashOffers(['mwaa-gpu-cicd', 'check', '--env', 's'], deep)).toEqual(['staging']);
  });

  it('zsh: yargs script, checked by zsh (npm test installs it)', () => {
    const script = runCli(['completion', 'zsh']);
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^#compdef mwaa-gpu-cicd\n/);
    expect(script.stdout).toContain('mwaa-gpu-cicd --get-yargs-completions "$' + '{words[@]}"');
    syntaxOk('zsh', script.stdout);
  });

  it('fish: its own script, which passes the program name first as bash and zsh do', () => {
    const script = runCli(['completion', 'fish']);
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout).toContain("complete -f -c mwaa-gpu-cicd -a '(__mwaa_gpu_cicd_complete)'");
    expect(script.stdout).toContain('(commandline -opc) (commandline -ct)');
    syntaxOk('fish', script.stdout);
  });

  it('takes the shell from $SHELL when none is named, refuses one it has no script for', () => {
    expect(runCli(['completion'], { env: { SHELL: '/usr/bin/zsh' } }).stdout).toMatch(/^#compdef/);
    const refused = runCli(['completion', 'tcsh']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('completion takes one of bash, zsh, fish; got "tcsh".');
  });

  it('printed through npx, the script calls the CLI through npx too', () => {
    const script = runCli(['completion', 'bash'], { env: { npm_command: 'exec' } }).stdout;
    expect(script).toContain('npx --no-install mwaa-gpu-cicd --get-yargs-completions "$' + '{args[@]}"');
    syntaxOk('bash', script);
  });
});
