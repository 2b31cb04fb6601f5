/**
 * The CLI table's parser (src/mwaa/airflow-cli.ts) against Airflow's own: every argv the
 * toolkit sends, every command of the table in its shortest and its fullest form, and mutations of
 * each (a value dropped, an unknown option, a choice Airflow does not offer, a positional missing)
 * are fed to `airflow.cli.cli_parser.get_parser().parse_args` in the local stack's venv of the
 * line (MWAA_TEST_AIRFLOW_LINE: 2.11.2 or 3.3.1), and both must agree on each: parses or not.
 * Only the venv is used (no running stack); a missing venv fails with how to build it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stackAirflowPython } from '../../local-stack/src/layout.js';
import { AIRFLOW_VERSIONS, airflowLine, isAirflowLine, newestOfLine } from '../../src/mwaa/versions.js';
import { type CliCommand, type CliOption, type CliPositional, AIRFLOW_CLI_TABLE, parseCli } from '../../src/mwaa/airflow-cli.js';
import { formsSent } from '../unit/mwaa/sent-forms.js';

const lineSetting = process.env.MWAA_TEST_AIRFLOW_LINE ?? '2';
if (!isAirflowLine(lineSetting)) throw new Error(`MWAA_TEST_AIRFLOW_LINE=${lineSetting}: expected 2 or 3`);
const version = newestOfLine(lineSetting);
const table = AIRFLOW_CLI_TABLE;
const commands = table.versions[version]!.commands;

// Reads a JSON list of argvs on stdin; prints the version, the top-level commands and, per argv,
// whether parse_args accepted it and the last line of what it printed when it did not.
const PARSE_SCRIPT = `
import contextlib, io, json, sys
import airflow
from airflow.cli.cli_parser import get_parser
parser = get_parser()
top = sorted(next(a for a in parser._actions if a.dest == "subcommand").choices)
verdicts = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
        verdicts.append({"ok": True})
    except SystemExit as e:
        verdicts.append({"ok": e.code == 0, "message": (err.getvalue().strip().splitlines() or [""])[-1]})
print(json.dumps({"version": airflow.__version__, "commands": top, "verdicts": verdicts}))
`;

// A value each of Airflow's `type=` functions and computed choices accepts.
const TYPED: Record<string, string> = {
  parsedate: '2026-01-02T03:04:05+00:00',
  int: '1',
  float: '1.5',
  'positive_int(allow_zero=False)': '1',
  'positive_int(allow_zero=True)': '0',
  'json.loads': '{}',
  string_list_type: 'a,b',
  DIRPATH: tmpdir(),
  'argparse.FileType("w", encoding="UTF-8")': '-',
};
const COMPUTED_CHOICES: Record<string, string> = {
  'ColorMode.ON, ColorMode.OFF, ColorMode.AUTO': 'auto',
  dagrun_states: 'running',
  job_states: 'running',
};

function sample(arg: CliOption | CliPositional): string {
  if (arg.choices) return arg.choices[0]!;
  if (arg.choicesFrom) return COMPUTED_CHOICES[arg.choicesFrom] ?? 'x';
  return arg.type ? (TYPED[arg.type] ?? 'x') : 'x';
}

function positionalsOf(spec: CliCommand, all: boolean): string[] {
  return spec.positionals.flatMap((p) => ((p.nargs === 'optional' || p.nargs === 'many') && !all ? [] : [sample(p)]));
}

function optionArgv(option: CliOption): string[] {
  const flag = option.flags.at(-1)!;
  if (option.value === 'none') return [flag];
  return [flag, ...Array<string>(typeof option.value === 'number' ? option.value : 1).fill(sample(option))];
}

/** The shortest and the fullest form of every command, and mutations of every form. */
function generated(path: string, spec: CliCommand): string[][] {
  const words = path.split(' ');
  const required = spec.options.filter((o) => o.required).flatMap(optionArgv);
  const shortest = [...words, ...positionalsOf(spec, false), ...required];
  const fullest = [...words, ...positionalsOf(spec, true), ...spec.options.flatMap(optionArgv)];
  return [shortest, fullest, ...mutations(words.length, shortest), ...mutations(words.length, fullest)];
}

function mutations(pathLength: number, argv: string[]): string[][] {
  // The extra argument is a date: a trailing optional positional of any type used here accepts it.
  const out: string[][] = [
    [...argv, '--no-such-option'],
    [...argv, TYPED.parsedate!],
  ];
  if (argv.length > pathLength) out.push(argv.slice(0, -1));
  const firstArg = argv.findIndex((a, i) => i >= pathLength && !a.startsWith('-'));
  if (firstArg >= 0) out.push([...argv.slice(0, firstArg), ...argv.slice(firstArg + 1)]);
  const choice = argv.findIndex((a) => a === '-o' || a === '--output');
  if (choice >= 0) out.push([...argv.slice(0, choice + 1), 'xml', ...argv.slice(choice + 2)]);
  return out;
}

const home = mkdtempSync(join(tmpdir(), 'airflow-cli-parser-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function realParser(argvs: string[][]): { version: string; commands: string[]; verdicts: { ok: boolean; message?: string }[] } {
  const python = stackAirflowPython(version);
  if (!python) throw new Error(`No venv for Airflow ${version}: run \`node dist/cli.js local up --airflow ${lineSetting}\` first`);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AIRFLOW__')) env[key] = value;
  Object.assign(env, {
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, 'airflow.db')}`,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    PYTHONDONTWRITEBYTECODE: '1',
  });
  const out = execFileSync(python, ['-c', PARSE_SCRIPT], {
    input: JSON.stringify(argvs),
    env,
    // argparse.FileType opens what it is given: anything it creates lands in the throw-away home.
    cwd: home,
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ReturnType<typeof realParser>;
}

describe(`Airflow ${version}: the table's parser agrees with Airflow's argparse`, () => {
  it('on every form the toolkit sends on this line, every command of the table, and their mutations', async () => {
    const sent: string[][] = [];
    for (const v of AIRFLOW_VERSIONS.filter((v) => airflowLine(v) === lineSetting)) sent.push(...(await formsSent(v)).argvs);
    const probe = realParser([]);
    expect(probe.version).toBe(version);
    // The table's groups the venv's parser lacks: on 3.x `roles` comes from the FAB provider, which
    // MWAA installs and the local stack's 3.3.1 venv does not (its auth manager is the simple one).
    const absent = table.groups.filter((g) => Object.keys(commands).some((c) => c.split(' ')[0] === g) && !probe.commands.includes(g));
    expect(absent).toEqual(lineSetting === '3' ? ['roles'] : []);
    const checked = Object.entries(commands).filter(([path]) => !absent.includes(path.split(' ')[0]!));
    const argvs = [...sent, ...sent.flatMap((argv) => mutations(2, argv)), ...checked.flatMap(([path, spec]) => generated(path, spec))];
    const unique = [...new Map(argvs.map((a) => [JSON.stringify(a), a])).values()];

    const real = realParser(unique);
    const disagreements = unique.flatMap((argv, i) => {
      const ours = parseCli(commands, argv);
      const theirs = real.verdicts[i]!;
      return ours.ok === theirs.ok
        ? []
        : [
            `${argv.join(' ')}: table ${ours.ok ? 'parses' : `refuses (${ours.reason})`}, argparse ${theirs.ok ? 'parses' : `refuses (${theirs.message})`}`,
          ];
    });
    expect(disagreements).toEqual([]);
    // Every form the toolkit sends parses with the real parser too.
    const sentVerdicts = sent.map((argv) => real.verdicts[unique.findIndex((u) => JSON.stringify(u) === JSON.stringify(argv))]!);
    expect(sentVerdicts.filter((v) => !v.ok)).toEqual([]);
    const accepted = real.verdicts.filter((v) => v.ok).length;
    process.stdout.write(
      `Airflow ${version}: ${unique.length} argvs (${new Set(sent.map((a) => a.join(' '))).size} sent forms), ` +
        `${accepted} parsed and ${unique.length - accepted} refused by both parsers\n`,
    );
  });
});
