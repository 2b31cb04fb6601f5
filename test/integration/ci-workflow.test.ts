/**
 * The GitHub Actions example (examples/github-actions/mwaa-deploy.yml) as GitHub would run it:
 * actionlint (the linter GitHub users run, not ours) finds nothing in it, and every `run:` step of
 * every job runs, in order, in a fresh project that installs the package, against the local stack:
 * the matrix environment is the config's `local`, the AWS settings are the stack's `local env`,
 * GITHUB_STEP_SUMMARY and GITHUB_OUTPUT are files as on a runner, and each step's `if:` and
 * `${{ }}` values are evaluated from the outputs of the steps before it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { provisionActionlint } from '../support/actionlint.js';
import { cliPath } from '../support/cli.js';
import { repoRoot, requireStack } from '../support/stack.js';
import { useTmpDir } from '../support/tmp.js';

const WORKFLOW = join(repoRoot, 'examples/github-actions/mwaa-deploy.yml');
const tmp = useTmpDir();

interface Step {
  id?: string;
  name?: string;
  if?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
interface Job {
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** What a job's expressions read: the matrix, the workflow's env, the outputs of its earlier steps. */
interface Context {
  matrix: Record<string, string>;
  env: Record<string, string>;
  outputs: Record<string, Record<string, string>>;
}

/** The value of one operand the example's expressions use; anything else fails the test, naming it. */
function operand(text: string, context: Context): string {
  const literal = /^'([^']*)'$/.exec(text);
  if (literal) return literal[1]!;
  const matrix = /^matrix\.([\w-]+)$/.exec(text);
  if (matrix) return context.matrix[matrix[1]!] ?? '';
  const env = /^env\.(\w+)$/.exec(text);
  if (env) return context.env[env[1]!] ?? '';
  const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(text);
  if (output) return context.outputs[output[1]!]?.[output[2]!] ?? '';
  throw new Error(`the test does not evaluate the expression ${text}: teach operand() what it means`);
}

/** A step's `if:`: conjunctions of `a == b`, `a != b` and always(). */
function condition(expression: string | undefined, context: Context): boolean {
  if (expression === undefined) return true;
  return expression.split('&&').every((term) => {
    const t = term.trim();
    if (t === 'always()') return true;
    const comparison = /^(\S+)\s*(==|!=)\s*(\S+)$/.exec(t);
    if (!comparison) throw new Error(`the test does not evaluate the condition ${t}`);
    const equal = operand(comparison[1]!, context) === operand(comparison[3]!, context);
    return comparison[2] === '==' ? equal : !equal;
  });
}

function substitute(value: string, context: Context): string {
  return value.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_m, expression: string) => operand(expression, context));
}

/** `KEY=value` lines of a GITHUB_OUTPUT file (the example writes no multi-line values). */
function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
  }
  return outputs;
}

/** The stack's `local env` exports as variables. */
function stackEnv(): Record<string, string> {
  const out = execFileSync(process.execPath, [cliPath, 'local', 'env'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  const env: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = execFileSync('bash', ['-c', `printf %s ${m[2]}`], { encoding: 'utf8' });
  }
  return env;
}

interface StepRun {
  job: string;
  step: string;
  status: number | null;
  output: string;
}

describe('the GitHub Actions example', () => {
  const workflow = parse(readFileSync(WORKFLOW, 'utf8')) as Workflow;
  let actionlint = '';

  beforeAll(() => {
    actionlint = provisionActionlint();
  }, 900_000);

  it('passes actionlint, which finds a broken copy of it', () => {
    const lint = spawnSync(actionlint, ['-no-color', WORKFLOW], { encoding: 'utf8', timeout: 60_000 });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    // The same file with a job that names no runner and reads an undefined step output.
    const broken = join(tmp(), 'broken.yml');
    writeFileSync(
      broken,
      readFileSync(WORKFLOW, 'utf8')
        .replace('  validate:\n    runs-on: ubuntu-latest\n', '  validate:\n')
        .replace("steps.plan.outputs.exitcode != '0'", "steps.plann.outputs.exitcode != '0'"),
    );
    const bad = spawnSync(actionlint, ['-no-color', '-format', '{{range $e := .}}{{$e.Kind}}\n{{end}}', broken], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stdout.split('\n').filter(Boolean).sort()).toEqual(['expression', 'syntax-check']);
  });

  it('pins every action by full commit SHA and names its release', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    const uses = [...text.matchAll(/^\s*(?:- )?uses: (\S+)(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]);
    expect(uses.length).toBeGreaterThanOrEqual(9);
    for (const [action, comment] of uses) {
      expect(action, action).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
      expect(comment, action).toMatch(/^# v\d+\.\d+\.\d+$/);
    }
    // One SHA per action: a copy-paste mistake would pin two releases of one action.
    const byAction = new Map<string, Set<string>>();
    for (const [action] of uses) {
      const [name, sha] = action!.split('@') as [string, string];
      byAction.set(name, (byAction.get(name) ?? new Set()).add(sha));
    }
    for (const [name, shas] of byAction) expect(shas.size, name).toBe(1);
  });

  it('runs every run: step of every job against the local stack, in order', () => {
    requireStack();
    const project = tmp();
    // A user's project: the package as a dev dependency (linked to this checkout, so the build under
    // test is what runs), the shipped config, and the lock `npm ci` installs from.
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'a-user-project', version: '1.0.0', private: true, devDependencies: { 'mwaa-gpu-cicd': `file:${repoRoot}` } }, null, 2)}\n`,
    );
    mkdirSync(join(project, 'config'));
    copyFileSync(join(repoRoot, 'config/config.yaml'), join(project, 'config/config.yaml'));
    execFileSync('npm', ['install', '--package-lock-only', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: project,
      stdio: 'pipe',
      timeout: 300_000,
    });
    const stack = stackEnv();
    const scratch = tmp();
    const runs: StepRun[] = [];
    const summaries: Record<string, string> = {};
    for (const job of ['validate', 'plan', 'deploy']) {
      const spec = workflow.jobs[job]!;
      const context: Context = { matrix: { environment: 'local' }, env: {}, outputs: {} };
      context.env = { ...(workflow.env ?? {}) };
      for (const [k, v] of Object.entries(spec.env ?? {})) context.env[k] = substitute(v, context);
      const summary = join(scratch, `${job}-summary.md`);
      writeFileSync(summary, '');
      spec.steps.forEach((step, index) => {
        if (!step.run || !condition(step.if, context)) return;
        const outputFile = join(scratch, `${job}-${index}-output`);
        writeFileSync(outputFile, '');
        const script = join(scratch, `${job}-${index}.sh`);
        writeFileSync(script, substitute(step.run, context));
        const stepEnv: Record<string, string> = {};
        for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = substitute(v, context);
        // GitHub runs a `run:` without `shell:` as `bash -e {0}`.
        const result = spawnSync('bash', ['--noprofile', '--norc', '-e', script], {
          cwd: project,
          env: {
            PATH: process.env.PATH!,
            HOME: process.env.HOME!,
            CI: 'true',
            GITHUB_ACTIONS: 'true',
            ...stack,
            ...context.env,
            ...stepEnv,
            GITHUB_STEP_SUMMARY: summary,
            GITHUB_OUTPUT: outputFile,
            NO_COLOR: '1',
          },
          encoding: 'utf8',
          timeout: 900_000,
        });
        runs.push({ job, step: step.name ?? step.run.split('\n')[0]!, status: result.status, output: result.stdout + result.stderr });
        if (step.id) context.outputs[step.id] = readOutputs(outputFile);
      });
      summaries[job] = readFileSync(summary, 'utf8');
    }
    const failed = runs.filter((r) => r.status !== 0).map((r) => `${r.job} › ${r.step} exited ${r.status}:\n${r.output}`);
    expect(failed).toEqual([]);
    expect(runs.map((r) => `${r.job} › ${r.step}`)).toEqual([
      'validate › npm ci',
      'validate › Validate and render every environment',
      'plan › npm ci',
      'plan › Plan',
      'deploy › npm ci',
      'deploy › Deploy, trigger the DAG and wait for its run',
    ]);
    // The plan: its marker and heading first, the table, as the summary and the comment's file.
    const plan = readFileSync(join(project, 'plan.md'), 'utf8');
    expect(plan.split('\n').slice(0, 2)).toEqual([
      '<!-- mwaa-gpu-cicd plan: local -->',
      expect.stringMatching(/^### Plan for `local` \(exit code [03]\)$/),
    ]);
    expect(summaries.plan).toBe(plan);
    expect(plan).toContain('|');
    // The deploy's summary: its plan and the run, which ended in success.
    expect(summaries.deploy).toMatch(/success/);
  }, 1_800_000);
});
