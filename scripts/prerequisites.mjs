#!/usr/bin/env node
// The system programs the test suite (and, with --bench, the benchmarks) needs beyond Node: the
// local stack's OpenSSH server, git, a Python 3.11 or 3.12 with venv, and curl. Checked in well under a
// second. When something is missing: as root with apt-get, install it and say so; otherwise stop
// with the one command that installs it. Usage: node scripts/prerequisites.mjs [--bench]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const onPath = (tool) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, tool)));
const works = (command, args) => spawnSync(command, args, { stdio: 'ignore', timeout: 5000 }).status === 0;

/** A Python the local stack can build its venvs with (what local-stack/src/venv.ts looks for). */
function pythonWithVenv() {
  const candidates = [];
  if (process.env.MWAA_LOCAL_PYTHON) candidates.push(process.env.MWAA_LOCAL_PYTHON);
  // Real interpreters before PATH names: a pyenv shim costs a shell and pyenv's start-up per call.
  const pyenv = join(process.env.PYENV_ROOT || join(homedir(), '.pyenv'), 'versions');
  try {
    for (const v of readdirSync(pyenv).sort().reverse()) {
      const minor = /^(3\.1[12])\.\d+$/.exec(v)?.[1];
      if (minor) candidates.push(join(pyenv, v, 'bin', `python${minor}`));
    }
  } catch {
    // No pyenv.
  }
  candidates.push('/usr/bin/python3.12', '/usr/bin/python3.11', 'python3.12', 'python3.11');
  return candidates.some((python) => works(python, ['-c', 'import venv, ensurepip']));
}

const needs = [
  { what: "sshd (the local stack's GPU server)", ok: () => existsSync('/usr/sbin/sshd'), pkg: 'openssh-server' },
  { what: 'ssh-keygen', ok: () => onPath('ssh-keygen'), pkg: 'openssh-client' },
  { what: 'git', ok: () => onPath('git'), pkg: 'git' },
  { what: 'Python 3.11 or 3.12 with venv', ok: pythonWithVenv, pkg: 'python3-venv' },
  // An HTTPS client we did not write, configured by `local env` alone (https-clients.test.ts).
  { what: "curl (a third-party client of the stack's HTTPS endpoint)", ok: () => onPath('curl'), pkg: 'curl' },
  // `completion zsh|fish`: each script is checked by its own shell (test/system/cli/completion.test.ts).
  { what: 'zsh', ok: () => onPath('zsh'), pkg: 'zsh' },
  { what: 'fish', ok: () => onPath('fish'), pkg: 'fish' },
];
if (process.argv.includes('--bench')) {
  needs.push(
    { what: 'aws (the AWS CLI, a peer the deploy bench compares with)', ok: () => onPath('aws'), pkg: 'awscli' },
    { what: 'parallel-ssh (a peer the check bench compares with)', ok: () => onPath('parallel-ssh'), pkg: 'pssh' },
  );
}

const missing = needs.filter((need) => !need.ok());
if (missing.length === 0) process.exit(0);
const packages = [...new Set(missing.map((need) => need.pkg))];
const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
process.stderr.write(`Missing: ${missing.map((need) => need.what).join('; ')}.\n`);
const root = process.getuid?.() === 0;
const apt = existsSync('/usr/bin/apt-get');
if (!root || !apt) {
  process.stderr.write(
    `Install it, then run this again:\n  ${apt ? `sudo apt-get update && sudo ${install}` : `(with your package manager) ${packages.join(' ')}`}\n`,
  );
  process.exit(2);
}
process.stderr.write(`Installing with apt-get (running as root): ${packages.join(' ')}\n`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update', '-qq'], install.split(' ').slice(1).concat('-qq')]) {
  const result = spawnSync('/usr/bin/apt-get', args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    process.stderr.write(`apt-get ${args.join(' ')} failed (exit ${result.status}).\n`);
    process.exit(1);
  }
}
const still = missing.filter((need) => !need.ok());
if (still.length > 0) {
  process.stderr.write(`Still missing after the install: ${still.map((need) => need.what).join('; ')}.\n`);
  process.exit(1);
}
process.stderr.write('Installed.\n');
