/**
 * Bench: the runtime check against N simulated GPU servers (1, 16, 64 loopback addresses served
 * by local sshd processes) beside Debian's parallel-ssh running `whoami` on the same targets with
 * the same concurrency. Our check runs in-process (runRuntimeCheck, after one warm-up run), so
 * the figures exclude Node start-up and module loading; sshd, keys, the checkout and the config
 * are set up before anything is timed.
 *
 *   npx tsx bench/check.ts [--targets 1,16,64] [--concurrency 16] [--repeat 3] [--sftp internal|external] [--json]
 *
 * Every SSH session starts the user's shell, and bash sources ~/.bashrc for sshd-started shells;
 * on this machine root's ~/.bashrc runs `pyenv init`, which costs far more than any client. pssh
 * starts one shell per target, the full check one (whoami + git); its SFTP session starts none
 * with sshd's internal-sftp (the default here) and one more with --sftp external.
 * Ours does the whole check per server (connect + whoami + git rev-parse + SFTP read and YAML
 * validation of the version file); pssh does one `whoami` per server.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readConfigFile, resolveConfig } from '../src/config/load.js';
import type { ResolvedConfig } from '../src/config/resolved.js';
import { runRuntimeCheck } from '../src/runtime-check/index.js';
import { makeCheckout, startSshd, type TestSshd } from '../test/integration/check-sshd.js';

/** The goals at 64 targets, for --quick and the full check alike: wall time against pssh's, and our CPU. */
const WALL_RATIO_GOAL = 0.6;
const CPU_MS_PER_TARGET_GOAL = 4;

interface Args {
  targets: number[];
  concurrency: number;
  repeat: number;
  json: boolean;
  sftp: 'internal' | 'external';
}

function parseArgs(argv: string[]): Args {
  const args: Args = { targets: [1, 16, 64], concurrency: 16, repeat: 3, json: false, sftp: 'internal' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--json') {
      args.json = true;
      continue;
    }
    if (flag === '--targets' && value) args.targets = value.split(',').map(Number);
    else if (flag === '--concurrency' && value) args.concurrency = Number(value);
    else if (flag === '--repeat' && value) args.repeat = Number(value);
    else if (flag === '--sftp' && (value === 'internal' || value === 'external')) args.sftp = value;
    else throw new Error(`unknown argument ${String(flag)}`);
    i++;
  }
  return args;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  /** sshd's CPU for the run (all its connections and their sessions). */
  serverCpuMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function writeConfig(sshd: TestSshd, workspace: string, count: number): Promise<ResolvedConfig> {
  const servers = sshd.hosts
    .slice(0, count)
    .map(
      (host, i) =>
        `      - { name: gpu-${String(i + 1).padStart(2, '0')}, host: "${host}", port: ${sshd.port}, workspacePath: "${workspace}", hostPublicKey: "${sshd.hostPublicKey}" }`,
    );
  const path = join(sshd.dir, `bench-${count}.yaml`);
  writeFileSync(
    path,
    [
      'environments:',
      '  bench:',
      '    mwaa: { environmentName: bench, region: us-east-1, bucket: airflow-bench }',
      '    secrets: { sshKeyArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf" }',
      '    git: { repoUrl: /srv/git/cicd-test.git, branch: cicd_01_etl, checkoutDir: cicd-test }',
      `    ssh: { user: ${sshd.user}, connectTimeoutSeconds: 60, connectRetries: 5 }`,
      '    servers:',
      ...servers,
      '',
    ].join('\n'),
  );
  return resolveConfig(await readConfigFile({ configPath: path }), 'bench');
}

async function ours(sshd: TestSshd, config: ResolvedConfig, concurrency: number, quick = false): Promise<Sample> {
  const server = sshd.serverCpuMs();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await runRuntimeCheck(config, { identityFile: sshd.clientKeyPath, concurrency, quick });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  // Connections end asynchronously on the server; let sshd reap them before reading its CPU.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const serverCpuMs = sshd.serverCpuMs() - server;
  if (!report.ok) {
    const bad = report.servers.find((s) => !s.ok);
    throw new Error(`our check failed on ${bad?.name}: ${bad?.checks.find((c) => !c.ok)?.reason}`);
  }
  return { wallMs, cpuMs: (used.user + used.system) / 1000, serverCpuMs };
}

/** parallel-ssh under /usr/bin/time: its CPU includes the ssh processes it waits for. */
function pssh(sshd: TestSshd, count: number, concurrency: number): Promise<Sample> {
  const hostsFile = join(sshd.dir, `hosts-${count}`);
  writeFileSync(
    hostsFile,
    `${sshd.hosts
      .slice(0, count)
      .map((host) => `${sshd.user}@${host}:${sshd.port}`)
      .join('\n')}\n`,
  );
  const extra = `-F /dev/null -i ${sshd.clientKeyPath} -o UserKnownHostsFile=${sshd.knownHostsPath} -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes`;
  const timeFile = join(sshd.dir, 'time.out');
  const server = sshd.serverCpuMs();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(
      '/usr/bin/time',
      ['-f', '%U %S', '-o', timeFile, 'parallel-ssh', '-h', hostsFile, '-p', String(concurrency), '-t', '120', '-x', extra, 'whoami'],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => {
        const wallMs = performance.now() - started;
        if (error) return reject(new Error(`parallel-ssh failed: ${error.message}\n${stdout}`));
        const success = (stdout.match(/\[SUCCESS\]/g) ?? []).length;
        if (success !== count) return reject(new Error(`parallel-ssh: ${success} of ${count} succeeded`));
        const [user = 0, sys = 0] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
        setTimeout(() => resolve({ wallMs, cpuMs: (user + sys) * 1000, serverCpuMs: sshd.serverCpuMs() - server }), 300);
      },
    );
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const max = Math.max(...args.targets);
  const sshd = await startSshd({ addresses: max, sftp: args.sftp });
  const workspace = mkdtempSync(join(tmpdir(), 'bench-ws-'));
  try {
    makeCheckout(workspace, 'cicd-test', 'cicd_01_etl', 'a: "1.4.2"\nb: 20261126\nc: true\nd: etl\n');
    const configs = new Map<number, ResolvedConfig>();
    for (const count of args.targets) configs.set(count, await writeConfig(sshd, workspace, count));
    // Warm-up: JIT and lazy module loading are start-up costs, not per-target costs.
    await ours(sshd, configs.get(args.targets[0] as number) as ResolvedConfig, 1);

    const loadBefore = loadavg()[0] ?? 0;
    const rows = [];
    for (const count of args.targets) {
      const concurrency = Math.min(args.concurrency, count);
      const ourSamples: Sample[] = [];
      const quickSamples: Sample[] = [];
      const psshSamples: Sample[] = [];
      for (let r = 0; r < args.repeat; r++) {
        // Interleaved, so that background load hits both alike.
        ourSamples.push(await ours(sshd, configs.get(count) as ResolvedConfig, concurrency));
        psshSamples.push(await pssh(sshd, count, concurrency));
        quickSamples.push(await ours(sshd, configs.get(count) as ResolvedConfig, concurrency, true));
      }
      const row = {
        targets: count,
        concurrency,
        quickWallMs: Math.round(median(quickSamples.map((s) => s.wallMs))),
        quickWallRatio: 0,
        quickCpuMsPerTarget: Math.round(median(quickSamples.map((s) => s.cpuMs / count)) * 10) / 10,
        quickServerCpuMsPerTarget: Math.round(median(quickSamples.map((s) => s.serverCpuMs / count))),
        oursWallMs: Math.round(median(ourSamples.map((s) => s.wallMs))),
        psshWallMs: Math.round(median(psshSamples.map((s) => s.wallMs))),
        wallRatio: 0,
        pairedRatio: 0,
        quickPairedRatio: 0,
        oursCpuMsPerTarget: Math.round(median(ourSamples.map((s) => s.cpuMs / count)) * 10) / 10,
        psshCpuMsPerTarget: Math.round(median(psshSamples.map((s) => s.cpuMs / count)) * 10) / 10,
        oursServerCpuMsPerTarget: Math.round(median(ourSamples.map((s) => s.serverCpuMs / count))),
        psshServerCpuMsPerTarget: Math.round(median(psshSamples.map((s) => s.serverCpuMs / count))),
      };
      row.wallRatio = Math.round((row.oursWallMs / row.psshWallMs) * 100) / 100;
      row.quickWallRatio = Math.round((row.quickWallMs / row.psshWallMs) * 100) / 100;
      // Each repetition's runs are back to back, so their ratio is the least affected by load drift.
      const paired = (samples: Sample[]) =>
        Math.round(median(samples.map((s, i) => s.wallMs / (psshSamples[i] as Sample).wallMs)) * 100) / 100;
      row.pairedRatio = paired(ourSamples);
      row.quickPairedRatio = paired(quickSamples);
      rows.push(row);
      if (!args.json) {
        process.stderr.write(
          `${count} targets: ours full ${ourSamples.map((s) => Math.round(s.wallMs)).join('/')} ms, ` +
            `ours --quick ${quickSamples.map((s) => Math.round(s.wallMs)).join('/')} ms, ` +
            `pssh ${psshSamples.map((s) => Math.round(s.wallMs)).join('/')} ms\n`,
        );
      }
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ bench: 'check', repeat: args.repeat, sftp: args.sftp, rows }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${cpus().length} cores; 1-min load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after ` +
        '(other work on the machine shares the CPU with sshd and both clients)\n\n',
    );
    const table = (title: string, header: string[], lines: string[][]) => {
      const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
      const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
      process.stdout.write(`${title}\n${fmt(header)}\n${lines.map(fmt).join('\n')}\n\n`);
    };
    const header = ['targets', 'conc', 'ours wall', 'pssh wall', 'ours/pssh', 'paired ratio', 'ours CPU/target', 'sshd CPU/target'];
    table(
      `ours --quick (connect + whoami: the same work as pssh) vs parallel-ssh whoami; medians of ${args.repeat}, in-process ` +
        "(ours/pssh: ratio of the medians; paired: median of each repetition's ratio)",
      header,
      rows.map((r) => [
        String(r.targets),
        String(r.concurrency),
        `${r.quickWallMs} ms`,
        `${r.psshWallMs} ms`,
        `${r.quickWallRatio.toFixed(2)}x`,
        `${r.quickPairedRatio.toFixed(2)}x`,
        `${r.quickCpuMsPerTarget} ms`,
        `${r.quickServerCpuMsPerTarget} ms`,
      ]),
    );
    table(
      'ours full check (+ git rev-parse + SFTP version file + YAML validation) vs the same pssh whoami runs',
      header,
      rows.map((r) => [
        String(r.targets),
        String(r.concurrency),
        `${r.oursWallMs} ms`,
        `${r.psshWallMs} ms`,
        `${r.wallRatio.toFixed(2)}x`,
        `${r.pairedRatio.toFixed(2)}x`,
        `${r.oursCpuMsPerTarget} ms`,
        `${r.oursServerCpuMsPerTarget} ms`,
      ]),
    );
    table(
      'parallel-ssh whoami (CPU of pssh and its ssh processes)',
      ['targets', 'conc', 'pssh wall', 'pssh+ssh CPU/target', 'sshd CPU/target'],
      rows.map((r) => [
        String(r.targets),
        String(r.concurrency),
        `${r.psshWallMs} ms`,
        `${r.psshCpuMsPerTarget} ms`,
        `${r.psshServerCpuMsPerTarget} ms`,
      ]),
    );
    const at64 = rows.find((r) => r.targets === 64);
    if (at64) {
      const verdict = (label: string, ratio: number, cpu: number) =>
        `${label}: wall <= ${WALL_RATIO_GOAL.toFixed(2)}x pssh ${ratio <= WALL_RATIO_GOAL ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x), ` +
        `CPU <= ${CPU_MS_PER_TARGET_GOAL} ms/target ${cpu <= CPU_MS_PER_TARGET_GOAL ? 'met' : 'NOT met'} (${cpu} ms)`;
      process.stdout.write(
        `targets at 64 -- ${verdict('--quick', at64.quickWallRatio, at64.quickCpuMsPerTarget)}; ${verdict('full', at64.wallRatio, at64.oursCpuMsPerTarget)}\n`,
      );
    }
  } finally {
    await sshd.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

await main();
