#!/usr/bin/env node
// The whole test suite, from nothing: build, unit tests, then the local stack (real Airflow, moto,
// OpenSSH) for each Airflow line with the Python and integration suites against it. Idempotent:
// `local up` reuses what is provisioned. Prints one closing line: "N passed, N failed[, N skipped]".
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

// System programs first (sshd, git, Python with venv): installed when we may, else one command to run.
const prerequisites = spawnSync(process.execPath, [join(root, 'scripts/prerequisites.mjs')], { cwd: root, stdio: 'inherit' });
if (prerequisites.status !== 0) process.exit(prerequisites.status ?? 1);
const reports = join(root, '.test-reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
// Every throw-away stack root (and other scratch a test's processes run in) goes under this one
// directory (test/support/stack.ts testScratchDir), so the stray check below sees all of them.
const testTmp = mkdtempSync(join(tmpdir(), 'mwaa-test-'));
process.env.MWAA_TEST_TMP = testTmp;
const started = Date.now();
const totals = { passed: 0, failed: 0, skipped: 0 };
const failedSteps = [];

/**
 * One step: a program run to its end, reported as `=== name: ok|FAILED in Ns`. Its output is
 * streamed as it comes, or with `buffered` (the two lines' steps, which run at the same time)
 * kept and printed in one block when it ends, so that two steps never interleave line by line.
 * Never spawnSync: the event loop must keep running, or the background provisioning would not
 * even start until the first await.
 */
function run(name, command, args, { env = {}, cwd = root, buffered = false } = {}) {
  process.stdout.write(buffered ? `\n=== ${name}: started\n` : `\n=== ${name}\n`);
  return new Promise((resolveStep) => {
    const t0 = Date.now();
    const chunks = [];
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', buffered ? 'pipe' : 'inherit', buffered ? 'pipe' : 'inherit'],
    });
    if (buffered) {
      child.stdout.on('data', (d) => chunks.push(d));
      child.stderr.on('data', (d) => chunks.push(d));
    }
    let settled = false;
    const finish = (code, signal) => {
      if (settled) return;
      settled = true;
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const ok = code === 0;
      if (!ok) failedSteps.push(name);
      const output = Buffer.concat(chunks).toString();
      const block = buffered ? `\n=== ${name}\n${output}${output.endsWith('\n') || output === '' ? '' : '\n'}` : '';
      process.stdout.write(`${block}=== ${name}: ${ok ? 'ok' : `FAILED (exit ${code ?? signal})`} in ${seconds}s\n`);
      resolveStep(ok);
    };
    child.on('close', finish);
    child.on('error', (error) => {
      if (buffered) chunks.push(Buffer.from(`${error.message}\n`));
      else process.stdout.write(`${error.message}\n`);
      finish(null, 'spawn error');
    });
  });
}

/**
 * Each failed test, named with the first lines of its failure, printed again after the closing
 * line: a long run's output is often read from its tail only (a CI log cut to its last page).
 */
const failures = [];
const FAILURE_LINES = 12;

function noteFailure(step, name, message) {
  const lines = String(message ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const shown = lines.slice(0, FAILURE_LINES).map((line) => `    ${line.slice(0, 300)}`);
  if (lines.length > FAILURE_LINES) shown.push(`    ... (${lines.length - FAILURE_LINES} more lines in the step's output)`);
  failures.push(`  [${step}] ${name}\n${shown.join('\n')}`);
}

function countVitest(file, step) {
  if (!existsSync(file)) return;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  for (const suite of report.testResults ?? []) {
    // Named from the checkout: each line runs in a copy of its own.
    const where = (suite.name ?? '').replace(/^.*?\/(?=(?:test|local-stack|bench)\/)/, '');
    const failed = (suite.assertionResults ?? []).filter((test) => test.status === 'failed');
    for (const test of failed) noteFailure(step, `${where} > ${test.fullName}`, (test.failureMessages ?? []).join('\n'));
    if (failed.length === 0 && suite.status === 'failed') noteFailure(step, where, suite.message);
  }
  totals.passed += report.numPassedTests ?? 0;
  // A file that fails to load has no failed tests of its own: count it once.
  totals.failed += report.numFailedTests || report.numFailedTestSuites || 0;
  totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}

function unescapeXml(text) {
  const named = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|quot|apos|amp);/gi, (_, code) =>
    code[0] === '#' ? String.fromCodePoint(Number(code[1] === 'x' ? `0${code.slice(1)}` : code.slice(1))) : named[code],
  );
}

function countJunit(file, step) {
  if (!existsSync(file)) return;
  const xml = readFileSync(file, 'utf8');
  for (const match of xml.matchAll(/<testcase\b([^>]*)>([\s\S]*?)<\/testcase>/g)) {
    const failure = match[2].match(/<(?:failure|error)\b([^>]*)>/);
    if (!failure) continue;
    const attr = (attrs, n) => (attrs.match(new RegExp(`\\b${n}="([^"]*)"`)) ?? [])[1] ?? '';
    const name = `${attr(match[1], 'classname')}::${attr(match[1], 'name')}`;
    noteFailure(step, name, unescapeXml(attr(failure[1], 'message')));
  }
  for (const match of xml.matchAll(/<testsuite\b[^>]*>/g)) {
    const attr = (n) => Number((match[0].match(new RegExp(`\\b${n}="(\\d+)"`)) ?? [])[1] ?? 0);
    const failed = attr('failures') + attr('errors');
    totals.failed += failed;
    totals.skipped += attr('skipped');
    totals.passed += attr('tests') - failed - attr('skipped');
  }
}

/**
 * After a line's `local down` nothing its stacks started may remain (counted as one test per
 * root): not under the line's stack root, nor under the line's scratch directory, where every
 * throw-away root of its tests lives. `local status` lists the processes marked with a root at or
 * below the one it is given (local-stack/src/strays.ts).
 */
function noStrayProcesses(label, roots) {
  for (const where of roots) {
    const status = spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'local', 'status', '--json'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, MWAA_LOCAL_HOME: where },
    });
    let strays;
    try {
      strays = JSON.parse(status.stdout).strays;
    } catch {
      strays = undefined;
    }
    if (Array.isArray(strays) && strays.length === 0) {
      totals.passed += 1;
      continue;
    }
    totals.failed += 1;
    failedSteps.push(
      `stray processes under ${where} after local down (${label}): ${JSON.stringify(strays ?? status.stdout.slice(0, 300))}`,
    );
  }
}

/** Throw-away stacks a failed test left up are stopped here, once the stray check has counted them. */
function downLeftoverStacks(scratch) {
  if (!existsSync(scratch)) return;
  for (const entry of readdirSync(scratch)) {
    const leftover = join(scratch, entry);
    if (!existsSync(join(leftover, 'state.json'))) continue;
    process.stdout.write(`\n=== local down of a stack a test left up: ${leftover}\n`);
    spawnSync(node, [cli, 'local', 'down'], { cwd: root, stdio: 'inherit', env: { ...process.env, MWAA_LOCAL_HOME: leftover } });
  }
}

const node = process.execPath;
const cli = join(root, 'dist/cli.js');

/** One vitest run of these projects (in the checkout `cwd`), counted from its JSON report. */
async function vitestRun(name, projects, files, { env = {}, cwd = root, buffered = false } = {}) {
  const out = join(reports, `${name}.json`);
  const projectArgs = projects.flatMap((project) => ['--project', project]);
  const vitest = join(cwd, 'node_modules/vitest/vitest.mjs');
  await run(name, node, [vitest, 'run', ...projectArgs, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...files], {
    env,
    cwd,
    buffered,
  });
  countVitest(out, name);
}

/** The integration files whose behaviour depends on the Airflow line. */
const LINE_DEPENDENT_SUITES = [
  'test/integration/deploy.test.ts',
  'test/integration/deploy-mwaa.test.ts',
  // status, history, logs and rollback: the line's REST API (v1 or v2) and task logs.
  'test/integration/day-two.test.ts',
  // Alarms are applied by the same deploy, after the environment update of that line's control plane.
  'test/integration/alarms.test.ts',
  // Metrics and notices: the run callbacks run in the DAG file processor on 2.x, the DAG processor on 3.x.
  'test/integration/monitoring.test.ts',
  // Airflow's own CLI parser of the line's venv against the CLI table's.
  'test/integration/airflow-cli-parser.test.ts',
  // The AWS CLI, boto3 and the line's amazon provider (MwaaHook, MwaaTriggerDagRunOperator) against the stack.
  'test/integration/third-party-clients.test.ts',
  'local-stack/test/integration',
];

/**
 * Suites that run once, on line 3 instead of line 2, so that the two lines, run at the same time,
 * take about as long.
 */
const ONCE_ON_LINE_3 = [
  // SSH to many servers at once: no Airflow at all.
  'test/integration/check-many.test.ts',
  // A library-only upgrade, synced in the worst order, and its rollback: three runs waiting out
  // retries. The library is the same zip on both lines; each line's DagBag suite imports it and
  // runs its adapter (test/python/dag), and deploy.test.ts runs the DAG on both.
  'test/integration/dag-library.test.ts',
  // Line-agnostic deploys (the plan, a web server that never answers): the same deployer and
  // control plane on both lines, so once is enough; here for the balance (line 3's stack comes up
  // about three minutes after line 2's, so line 2 takes the other line-agnostic suites: several
  // repositories, the runtime check, the deployer's convergence).
  'test/integration/deploy-private-only.test.ts',
  'test/integration/plan-output.test.ts',
  // The GitHub Actions example's run steps, in order, against the stack (one deploy that waits).
  'test/integration/ci-workflow.test.ts',
  // GPU readiness, here for the balance (line 2's lane is the longer); a run right after a change
  // of the DAG's shape is deploy.test.ts's, on both lines (the library's check_gpus runs in each
  // line's pytest).
  'test/integration/gpu-check.test.ts',
];

/**
 * Line-agnostic suites inside a folder LINE_DEPENDENT_SUITES names, run once, on line 2 (where
 * an Airflow restart costs least: one scheduler, not three processes).
 */
const ONCE_ON_LINE_2 = [
  // A second stack beside the first: ports, process accounting, a stop that spares the other.
  'local-stack/test/integration/side-by-side.test.ts',
];

const stackRoot = process.env.MWAA_LOCAL_HOME || join(root, '.local-stack');
const venvsDir = process.env.MWAA_LOCAL_VENVS || join(stackRoot, 'venvs');

/**
 * The two Airflow lines run at the same time, each in a checkout of its own: line 2 here, line 3
 * in a copy of this checkout (node_modules linked, not copied) under the run's scratch directory,
 * with its own stack root, dist/, dist-artifacts/ and scratch directory. Nothing of one line's
 * files, stack or ports is then the other's; the venvs are shared (one install per line). Much of
 * an integration test is waiting for Airflow's scheduler, so the other line's tests fill the CPU.
 */
function lineCheckout(line) {
  const scratch = join(testTmp, `line-${line}`);
  mkdirSync(scratch, { recursive: true });
  // Line 2's stack lives under the scratch directory too, not in the checkout's .local-stack: the
  // unit and system tests run beside it and must not find a stack there.
  if (line === '2') return { line, dir: root, stackRoot: join(testTmp, 'stack-line-2'), scratch };
  const dir = join(testTmp, `checkout-line-${line}`);
  const skipped = new Set(['node_modules', '.local-stack', '.test-reports', 'dist-artifacts', '.cache']);
  cpSync(root, dir, {
    recursive: true,
    filter: (source) => !skipped.has(relative(root, source).split(sep)[0]),
  });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { line, dir, stackRoot: join(dir, '.local-stack'), scratch };
}

/** The environment of a line's steps: its stack, its scratch directory, the shared venvs. */
function lineEnv(checkout) {
  return {
    MWAA_TEST_AIRFLOW_LINE: checkout.line,
    MWAA_LOCAL_HOME: checkout.stackRoot,
    MWAA_LOCAL_VENVS: venvsDir,
    MWAA_TEST_TMP: checkout.scratch,
  };
}

/**
 * Provisioning (the installer, each line's venv from its lock, and a migrated Airflow DB: `local
 * provision`) runs in the background from the build on, one line after the other (the installer
 * and tools venvs are shared): a line's stack comes up as soon as its venv is ready. Its output
 * goes to .test-reports/provision.log; a failure shows again in the `local up` that redoes it.
 */
function provisionInBackground(checkouts) {
  const log = openSync(join(reports, 'provision.log'), 'a');
  const done = {};
  let previous = Promise.resolve();
  for (const checkout of checkouts) {
    previous = previous.then(
      () =>
        new Promise((resolveLine) => {
          const t0 = Date.now();
          const child = spawn(node, [cli, 'local', 'provision', '--airflow', checkout.line], {
            cwd: root,
            env: { ...process.env, ...lineEnv(checkout) },
            stdio: ['ignore', log, log],
          });
          const settle = (ok) => resolveLine({ ok, seconds: ((Date.now() - t0) / 1000).toFixed(1) });
          child.on('exit', (code) => settle(code === 0));
          child.on('error', () => settle(false));
        }),
    );
    done[checkout.line] = previous;
  }
  void previous.then(() => closeSync(log));
  return done;
}

/** Waits for a line's background provisioning and reports it like a step (it is not counted). */
async function provisioned(provisioning, line) {
  const result = await provisioning[line];
  if (result)
    process.stdout.write(
      `\n=== local provision (Airflow ${line}, in the background): ${result.ok ? 'ok' : 'FAILED'} in ${result.seconds}s\n`,
    );
}

const FUZZ_TEST = 'test/python/dag/test_version_fuzz.py';

/**
 * The version.yaml fuzz compares the DAG's reader (PyYAML) with the runtime check's. The reader's
 * code is the same on both lines, so it runs once (on line 2) when every committed lock pins the
 * same PyYAML; a lock that pins another makes it run on both lines.
 */
function fuzzDeselection(line) {
  if (line === '2') return [];
  const locks = join(root, 'local-stack/locks');
  const pins = new Set(
    readdirSync(locks)
      // The Airflow venvs pytest runs in (installer.txt and aws-cli's pin no PyYAML of theirs to compare).
      .filter((file) => file.startsWith('airflow-') && file.endsWith('.txt'))
      .map((file) => /^pyyaml==(\S+)/im.exec(readFileSync(join(locks, file), 'utf8'))?.[1] ?? 'none'),
  );
  if (pins.size !== 1 || pins.has('none')) return [];
  process.stdout.write(`(${FUZZ_TEST} ran on line 2: every lock pins PyYAML ${[...pins][0]})\n`);
  return [`--ignore=${FUZZ_TEST}`];
}

/**
 * The CPU-bound suites (unit + system first, then each line's ruff and pytest) run one after
 * another on this lane, beside the two lines' integration suites, which mostly wait on Airflow's
 * scheduler. Each step on it starts when the one before has ended, whatever its result.
 */
let cpuLane = Promise.resolve();
function onCpuLane(work) {
  const turn = cpuLane.then(work, work);
  cpuLane = turn.catch(() => undefined);
  return turn;
}

/** A line's ruff and pytest suites (they use its stack's sshd and S3), on the CPU lane. */
function pythonSuites(checkout, state) {
  const { line, dir } = checkout;
  const env = lineEnv(checkout);
  const label = `Airflow ${line}`;
  return onCpuLane(async () => {
    const ruff = join(state.venvBin, 'ruff');
    await run(`ruff (${label})`, ruff, ['check', 'templates', 'test/python', 'scripts'], { env, cwd: dir, buffered: true });
    await run(`ruff format (${label})`, ruff, ['format', '--check', 'templates', 'test/python', 'scripts'], {
      env,
      cwd: dir,
      buffered: true,
    });
    const pytest = async (name, paths) => {
      const out = join(reports, `${name}.xml`);
      await run(name, join(state.venvBin, 'python'), ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${out}`, ...paths], {
        env,
        cwd: dir,
        buffered: true,
      });
      countJunit(out, name);
    };
    // One pytest session per suite: each folder has its own conftest.
    // The plugins' suite needs no Airflow, and both locks pin the same paramiko and cryptography:
    // it runs once, on line 3.
    if (line === '3') await pytest('pytest-plugins', ['test/python/plugins']);
    await pytest(`pytest-dag-airflow-${line}`, ['test/python/dag', ...fuzzDeselection(line)]);
  });
}

/**
 * A line's whole part: its stack up as soon as its venv is ready, then its integration suites
 * and (on the CPU lane) its Python suites at the same time, down, the stray check.
 */
async function testLine(checkout, provisioning) {
  const { line, dir } = checkout;
  const env = lineEnv(checkout);
  const label = `Airflow ${line}`;
  const lineCli = join(dir, 'dist/cli.js');
  await provisioned(provisioning, line);
  try {
    if (!(await run(`local up (${label})`, node, [lineCli, 'local', 'up', '--airflow', line], { env, cwd: dir, buffered: true }))) return;
    const state = JSON.parse(readFileSync(join(checkout.stackRoot, 'state.json'), 'utf8'));
    // Everything on line 2 (but the few moved to line 3); on line 3 what depends on the line
    // (deploy, the control plane, the stack): the check suites' SSH side is the same on both, and
    // their Variables comparison runs on line 3 inside the deploy suite.
    const name = `integration-airflow-${line}`;
    // Line 2 runs every suite but those kept for line 3; line 3 the line-dependent ones and its own.
    // (deploy-convergence.test.ts, the deployer's locks, refusals, interrupted deploys and rollback,
    // is in neither list: once, on line 2.)
    const files =
      line === '2'
        ? ONCE_ON_LINE_3.flatMap((file) => ['--exclude', file])
        : [...LINE_DEPENDENT_SUITES, ...ONCE_ON_LINE_3, ...ONCE_ON_LINE_2.flatMap((file) => ['--exclude', file])];
    await Promise.all([vitestRun(name, ['integration'], files, { env, cwd: dir, buffered: true }), pythonSuites(checkout, state)]);
  } finally {
    // The stray check must not meet a provisioning still running.
    await Promise.all(Object.values(provisioning));
    await run(`local down (${label})`, node, [lineCli, 'local', 'down'], { env, cwd: dir, buffered: true });
    noStrayProcesses(label, [checkout.stackRoot, checkout.scratch]);
    downLeftoverStacks(checkout.scratch);
  }
}

let provisioning = {};
const checkouts = [];
try {
  if (!(await run('build', 'npm', ['run', 'build']))) throw new Error('build failed');
  // After the build: the copy for line 3 takes dist/ with it.
  for (const line of ['2', '3']) checkouts.push(lineCheckout(line));
  provisioning = provisionInBackground(checkouts);
  // Every vitest run below uses this build (test/support/build-once.ts skips its own).
  process.env.MWAA_TEST_DIST_BUILT = '1';
  await run('typecheck', 'npx', ['tsc', '--noEmit']);
  // Biome: formatting and lint of every TypeScript and script file (biome.jsonc).
  await run('biome check', 'npx', ['biome', 'check']);
  // One run for both projects: while the hostile-world matrix (test/system) waits on its stalled
  // remotes, the other worker runs unit files instead of idling. It opens the CPU lane; the lines
  // start their stacks and integration suites beside it as soon as their venvs are ready.
  const unitScratch = join(testTmp, 'unit-system');
  mkdirSync(unitScratch);
  const unitAndSystem = onCpuLane(async () => {
    await vitestRun('unit + system', ['unit', 'system'], [], { env: { MWAA_TEST_TMP: unitScratch }, buffered: true });
    noStrayProcesses('unit and system tests', [unitScratch]);
    downLeftoverStacks(unitScratch);
  });
  await Promise.all([unitAndSystem, ...checkouts.map((checkout) => testLine(checkout, provisioning))]);
} catch (error) {
  process.stdout.write(`${error.message}\n`);
} finally {
  await Promise.all(Object.values(provisioning));
  for (const checkout of checkouts) {
    if (existsSync(join(checkout.stackRoot, 'state.json')))
      spawnSync(node, [join(checkout.dir, 'dist/cli.js'), 'local', 'down'], {
        cwd: checkout.dir,
        stdio: 'inherit',
        env: { ...process.env, ...lineEnv(checkout) },
      });
    downLeftoverStacks(checkout.scratch);
  }
  rmSync(testTmp, { recursive: true, force: true });
}

const minutes = ((Date.now() - started) / 60000).toFixed(1);
if (process.env.CI && totals.skipped > 0) failedSteps.push(`${totals.skipped} skipped tests (a skip is a failure in CI)`);
process.stdout.write(`\nTest run took ${minutes} min.${failedSteps.length ? ` Failed steps: ${failedSteps.join('; ')}` : ''}\n`);
if (failures.length > 0) process.stdout.write(`Failed tests:\n${failures.join('\n')}\n`);
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}\n`);
process.exit(failedSteps.length === 0 && totals.failed === 0 ? 0 : 1);
