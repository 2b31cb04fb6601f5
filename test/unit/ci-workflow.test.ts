/**
 * The GitHub Actions example (examples/github-actions/mwaa-deploy.yml) parses, has the jobs
 * docs/CI.md describes, and every command it runs exists with the flags it uses: each
 * `npx mwaa-gpu-cicd ...` runs for real in an empty directory, where it gets through argument
 * parsing and flag checks and stops only at the missing config file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { repoRoot, runCli } from '../support/cli.js';
import { useTmpDir } from '../support/tmp.js';

const tmp = useTmpDir();
const WORKFLOW = join(repoRoot, 'examples/github-actions/mwaa-deploy.yml');

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  needs?: string | string[];
  permissions?: Record<string, string>;
  'timeout-minutes'?: number;
  strategy?: { matrix?: { environment?: string[] }; 'max-parallel'?: number };
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: { pull_request?: unknown; push?: { branches?: string[] } };
  env: Record<string, string>;
  jobs: Record<string, Job>;
}

/** A job's env with the matrix's first environment for `${{ matrix.environment }}`. */
function jobEnv(job: Job): Record<string, string> {
  const environment = job.strategy?.matrix?.environment?.[0] ?? '';
  return Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, v.replace(/\$\{\{ matrix\.environment \}\}/g, environment)]));
}

function loadWorkflow(): Workflow {
  const doc = parseDocument(readFileSync(WORKFLOW, 'utf8'), { uniqueKeys: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS() as Workflow;
}

/**
 * The simple commands of a `run:` script as argument vectors: split at `&&`, `||`, `|`, `;` and
 * newlines outside quotes, quotes removed, `$VAR` replaced from `vars`, `${{ ... }}` by a
 * placeholder, redirections dropped with their targets.
 */
function commandsOf(script: string, vars: Record<string, string>): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  const source = script.replace(/\$\{\{[^}]*\}\}/g, 'gha-expression').replace(/\\\n/g, ' ');
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    const kept: string[] = [];
    for (let i = 0; i < words.length; i += 1) {
      if (/^(\d?>>?|<)$/.test(words[i]!)) i += 1;
      else if (!/^\d?>&\d$/.test(words[i]!)) kept.push(words[i]!);
    }
    if (kept.length > 0) commands.push(kept);
    words = [];
  };
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '$' && quote === '"') {
        const name = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(source.slice(i))![1]!;
        word += vars[name] ?? '';
        i += name.length;
      } else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '&' && word.endsWith('>')) {
      word += c; // 2>&1
    } else if (c === '\n' || c === ';' || c === '|' || c === '&') {
      if ((c === '|' || c === '&') && source[i + 1] === c) i += 1;
      endCommand();
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '$' && /^\$[A-Za-z_]/.test(source.slice(i))) {
      const name = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(source.slice(i))![1]!;
      word += vars[name] ?? '';
      i += name.length;
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

describe('the GitHub Actions example', () => {
  const workflow = loadWorkflow();
  const steps = Object.entries(workflow.jobs).flatMap(([job, j]) => j.steps.map((step) => ({ job, step })));
  const runs = steps.flatMap(({ job, step }) =>
    step.run
      ? commandsOf(step.run, { ...workflow.env, ...jobEnv(workflow.jobs[job]!), ...(step.env ?? {}) }).map((argv) => ({ job, argv }))
      : [],
  );
  const ours = runs.filter(({ argv }) => argv[0] === 'npx' && argv[1] === 'mwaa-gpu-cicd');

  it('validates on every change, plans pull requests with the plan role, deploys main with the deploy role', () => {
    expect(workflow.on.pull_request).toBeDefined();
    expect(workflow.on.push?.branches).toEqual(['main']);
    expect(workflow.jobs.plan?.if).toBe("github.event_name == 'pull_request'");
    expect(workflow.jobs.deploy?.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    const role = { plan: 'MWAA_PLAN_ROLE_ARN', deploy: 'MWAA_DEPLOY_ROLE_ARN' };
    for (const [job, variable] of Object.entries(role)) {
      expect(workflow.jobs[job]?.permissions?.['id-token'], job).toBe('write');
      const credentials = workflow.jobs[job]!.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      expect(credentials?.with?.['role-to-assume'], job).toBe(`$${'{{'} vars.${variable} }}`);
    }
    // Every job has a time limit; both matrices cover the environments, prod behind its GitHub environment.
    for (const [name, job] of Object.entries(workflow.jobs)) expect(job['timeout-minutes'], name).toBeGreaterThan(0);
    for (const job of ['plan', 'deploy']) expect(workflow.jobs[job]!.strategy?.matrix?.environment).toEqual(['dev', 'prod']);
    expect(workflow.jobs.deploy!.environment).toBe(`$${'{{'} matrix.environment }}`);
    expect(workflow.jobs.plan!.environment).toBeUndefined(); // its OIDC subject stays repo:O/R:pull_request
    expect(workflow.jobs.deploy!.strategy?.['max-parallel']).toBe(1);
    // Per environment: a plan cancels the stale one of its pull request, a deploy is never cancelled.
    expect(workflow.jobs.plan!.concurrency).toEqual({
      group: `mwaa-plan-$${'{{'} matrix.environment }}-$${'{{'} github.event.pull_request.number }}`,
      'cancel-in-progress': true,
    });
    expect(workflow.jobs.deploy!.concurrency).toEqual({ group: `mwaa-deploy-$${'{{'} matrix.environment }}`, 'cancel-in-progress': false });
    expect(ours.map(({ job, argv }) => `${job}: ${argv.slice(2, 4).join(' ')}`)).toEqual([
      'validate: generate --check',
      'plan: deploy --env',
      'deploy: deploy --env',
    ]);
    const plan = ours.find(({ job }) => job === 'plan')!.argv;
    expect(plan).toEqual(expect.arrayContaining(['--plan', '--diff', '--detailed-exitcode', '--format', 'markdown']));
    expect(workflow.jobs.plan!.steps.some((s) => s.run?.includes('>> "$GITHUB_STEP_SUMMARY"'))).toBe(true);
    const comment = workflow.jobs.plan!.steps.find((s) => s.uses?.startsWith('actions/github-script@'));
    expect(String(comment?.with?.script)).toMatch(/updateComment[\s\S]*createComment/);
    expect(ours.find(({ job }) => job === 'deploy')!.argv).toEqual(expect.arrayContaining(['--yes', '--wait']));
  });

  it('runs only commands that exist, with flags they take', () => {
    const scripts = Object.keys(
      (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts,
    );
    for (const { argv } of runs.filter(({ argv }) => argv[0] === 'npm' && argv[1] === 'run')) expect(scripts).toContain(argv[2]);
    expect(ours.length).toBeGreaterThanOrEqual(3);
    for (const { job, argv } of ours) {
      const run = runCli(argv.slice(2), { cwd: tmp() });
      expect(`${job}: ${run.stderr}`).toBe(
        `${job}: No config file at config/config.yaml. Create one with: npx mwaa-gpu-cicd init (or pass --config <file>).\n`,
      );
    }
  });

  it("keeps one plan comment per environment: the bot's comment with the marker is updated, else one is created", async () => {
    const script = String(workflow.jobs.plan!.steps.find((s) => s.uses?.startsWith('actions/github-script@'))!.with!.script);
    type Comment = { id: number; body: string; user: { type: string } };
    /** Runs the step's script as actions/github-script does: an async function of require, github and context. */
    const runScript = async (planMd: string, comments: Comment[]) => {
      const calls: Array<[string, Record<string, unknown>]> = [];
      const fakeFs = { readFileSync: (path: string) => (path === 'plan.md' ? planMd : '') };
      const github = {
        paginate: async (method: (p: object) => Promise<{ data: Comment[] }>, params: object) => (await method(params)).data,
        rest: {
          issues: {
            listComments: async (params: Record<string, unknown>) => {
              calls.push(['list', params]);
              return { data: comments };
            },
            updateComment: async (params: Record<string, unknown>) => void calls.push(['update', params]),
            createComment: async (params: Record<string, unknown>) => void calls.push(['create', params]),
          },
        },
      };
      const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 } };
      const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
        ...args: string[]
      ) => (...a: unknown[]) => Promise<void>;
      await new AsyncFunction('require', 'github', 'context', script)(
        (m: string) => (m === 'node:fs' ? fakeFs : undefined),
        github,
        context,
      );
      return calls;
    };
    const plan = (env: string, text: string) => `<!-- mwaa-gpu-cicd plan: ${env} -->\n### Plan for \`${env}\`\n${text}\n`;
    const created = await runScript(plan('dev', 'A'), []);
    expect(created.map(([c]) => c)).toEqual(['list', 'create']);
    expect(created[1]![1]).toEqual({ owner: 'o', repo: 'r', issue_number: 7, body: plan('dev', 'A') });
    const existing: Comment[] = [
      { id: 1, body: `> ${plan('dev', 'quoted by a person')}`, user: { type: 'User' } },
      { id: 2, body: plan('dev', 'quoted without the quote mark'), user: { type: 'User' } },
      { id: 3, body: plan('prod', 'old'), user: { type: 'Bot' } },
      { id: 4, body: plan('dev', 'old'), user: { type: 'Bot' } },
    ];
    const updated = await runScript(plan('dev', 'B'), existing);
    expect(updated.slice(1)).toEqual([['update', { owner: 'o', repo: 'r', comment_id: 4, body: plan('dev', 'B') }]]);
    const long = await runScript(plan('prod', 'x'.repeat(70_000)), existing);
    const body = String(long[1]![1].body);
    expect(long[1]![1].comment_id).toBe(3);
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.endsWith('(cut: the whole plan is in the job summary)')).toBe(true);
  });

  it('splits run scripts into commands as a shell would', () => {
    expect(commandsOf('set +e\nnpx a --x "$E" > out.md\ncode=$?\n[ "$code" -ne 0 ] && exit "$code" || true', { E: 'prod' })).toEqual([
      ['set', '+e'],
      ['npx', 'a', '--x', 'prod'],
      ['code=$?'],
      ['[', '', '-ne', '0', ']'],
      ['exit', ''],
      ['true'],
    ]);
    expect(commandsOf(`a $${'{{'} github.token }} 'b c' 2>&1 | tee -a "$S"`, { S: 'sum' })).toEqual([
      ['a', 'gha-expression', 'b c'],
      ['tee', '-a', 'sum'],
    ]);
  });
});
