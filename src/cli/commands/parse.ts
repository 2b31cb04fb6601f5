import { basename } from 'node:path';
import type { CommandModule } from 'yargs';
import { readConfigFile, requireEnvironment } from '../../config/load.js';
import { ExitCode, UserError } from '../../errors.js';
import { generateEnvironment, type GeneratedEnvironment } from '../../generator/generate.js';
import { COMMANDS, SHARED_OPTIONS } from '../command-table.js';
import { cliContext, commandLine } from '../context.js';
import { AIRFLOW_PYTHON_VARIABLE, findAirflow, importDags, type DagImportResult, type DagToImport } from '../dag-import.js';
import { refuseEmpty } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { DEFAULT_AIRFLOW_VERSION } from '../../mwaa/versions.js';
import { resolveCliFile } from '../load-config.js';
import pkg from '../../../package.json' with { type: 'json' };
import { writeJson } from '../json-output.js';

interface ParseArgs {
  env: string[] | undefined;
  config: string;
  json: boolean;
  'airflow-python': string[] | undefined;
}

interface EnvironmentOutcome {
  env: string;
  airflowVersion: string;
  dagId: string;
  /** imported: parsed in a DagBag; rendered: validated and rendered only (no Airflow here). */
  status: 'imported' | 'import-error' | 'rendered';
  importErrors?: Record<string, string>;
  taskCount?: number | null;
  note?: string;
}

function dagToImport(g: GeneratedEnvironment): DagToImport {
  const dag = g.artifacts.find((a) => a.kind === 'dag');
  const plugins = g.artifacts.find((a) => a.kind === 'plugins');
  if (!dag || !plugins) throw new Error(`the artifacts of ${g.config.envName} hold no DAG or plugins.zip`);
  return {
    env: g.config.envName,
    airflowVersion: g.config.airflow.version,
    dagId: g.config.dag.id,
    dagFile: { name: basename(dag.path), bytes: dag.bytes },
    pluginsZip: plugins.bytes,
  };
}

function outcomeOf(dag: DagToImport, result: DagImportResult): EnvironmentOutcome {
  const base = { env: dag.env, airflowVersion: dag.airflowVersion, dagId: dag.dagId };
  const errors = Object.keys(result.importErrors).length;
  if (errors > 0) return { ...base, status: 'import-error', importErrors: result.importErrors };
  if (!result.dagIds.includes(dag.dagId)) {
    return {
      ...base,
      status: 'import-error',
      importErrors: {
        [dag.dagFile.name]: `the file imports, but defines no DAG "${dag.dagId}" (found: ${result.dagIds.join(', ') || 'none'})`,
      },
    };
  }
  return { ...base, status: 'imported', taskCount: result.taskCount };
}

const command: CommandModule<object, ParseArgs> = {
  command: 'parse',
  describe: COMMANDS.parse,
  builder: (yargs) =>
    yargs
      .option('env', { ...SHARED_OPTIONS.env, array: true, describe: "Import only these environments' DAGs (all are still validated)" })
      .option('config', SHARED_OPTIONS.config)
      .option('json', SHARED_OPTIONS.json)
      .option('airflow-python', {
        type: 'string',
        array: true,
        describe: `A python with apache-airflow installed, used for the DAGs of its Airflow version (repeatable; default $${AIRFLOW_PYTHON_VARIABLE}, colon-separated)`,
      })
      .example('$0 parse', 'Validate the config; import every DAG in Airflow when its venv exists')
      .example('$0 parse --env prod', 'Import only the prod DAG')
      .example(`$0 parse --airflow-python ~/venvs/airflow-${DEFAULT_AIRFLOW_VERSION}/bin/python`, 'Import with an Airflow of your own')
      .epilog(
        `Which Airflow imports a DAG of version V: a python given with --airflow-python (else in $${AIRFLOW_PYTHON_VARIABLE}) ` +
          "whose apache-airflow is V; else the local stack's venv for V (made by `local up`). Without one, parse validates " +
          `and renders only, and says so.\n\n${EXIT_CODES_EPILOG}`,
      )
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    refuseEmpty(args, context.argv, ['env', 'config', 'airflow-python']);
    const file = await readConfigFile({ configPath: args.config });
    for (const env of args.env ?? []) requireEnvironment(file, env);
    const { configs, skipped } = resolveCliFile(file);
    const wanted = args.env && args.env.length > 0 ? new Set(args.env) : undefined;
    for (const { env, reason } of skipped) if (wanted?.has(env)) throw reason;

    const generated = await Promise.all(
      [...configs.values()].filter((c) => !wanted || wanted.has(c.envName)).map((c) => generateEnvironment(c, pkg.version)),
    );
    const dags = generated.map(dagToImport);
    const outcomes = new Map<string, EnvironmentOutcome>();
    const versions = [...new Set(dags.map((d) => d.airflowVersion))].sort();
    const airflow = await findAirflow(versions, args['airflow-python'] ?? []);
    const given = airflow.given.map((g) => `${g.python} has ${g.version}`).join(', ');
    for (const version of versions) {
      const batch = dags.filter((d) => d.airflowVersion === version);
      const found = airflow.found.get(version);
      if (!found) {
        const how = given
          ? `the pythons given have other versions (${given})`
          : `give one with --airflow-python or $${AIRFLOW_PYTHON_VARIABLE}, or run \`${commandLine('local', ['up'])}\` with that line`;
        for (const dag of batch) {
          outcomes.set(dag.env, {
            env: dag.env,
            airflowVersion: version,
            dagId: dag.dagId,
            status: 'rendered',
            note: `no Airflow ${version} here (${how}): validated and rendered only, not imported`,
          });
        }
        continue;
      }
      if (!context.quiet && !args.json) {
        process.stderr.write(
          `importing ${batch.map((d) => d.env).join(', ')} in Airflow ${version} (${found.source}: ${found.python})...\n`,
        );
      }
      const results = await importDags(found.python, batch);
      for (const [i, dag] of batch.entries()) outcomes.set(dag.env, outcomeOf(dag, results[i]!));
    }
    const ordered = dags.map((d) => outcomes.get(d.env)!);
    const notes = skipped.map(({ env, reason }) => `${env}: not rendered: ${reason.message}`);
    const failed = ordered.filter((o) => o.status === 'import-error');

    if (args.json) {
      writeJson(failed.length === 0, { environments: ordered, skipped: notes });
    } else {
      const { out } = context;
      for (const o of ordered) {
        if (o.status === 'imported') {
          process.stdout.write(
            `${out.green('ok')}    ${o.env}: DAG ${o.dagId} imports in Airflow ${o.airflowVersion} (${o.taskCount ?? '?'} tasks, no import errors)\n`,
          );
        } else if (o.status === 'rendered') {
          process.stdout.write(`${out.yellow('valid')} ${o.env}: ${o.note}\n`);
        } else {
          process.stdout.write(`${out.red('FAIL')}  ${o.env}: DAG ${o.dagId} does not import in Airflow ${o.airflowVersion}:\n`);
          for (const [name, error] of Object.entries(o.importErrors ?? {})) {
            process.stdout.write(
              `${error
                .trimEnd()
                .split('\n')
                .map((line) => `      ${line}`)
                .join('\n')
                .replace(/^ {6}/, `  ${basename(name)}: `)}\n`,
            );
          }
        }
      }
      if (!context.quiet) for (const note of notes) process.stderr.write(`${note}\n`);
    }
    if (failed.length > 0) {
      if (args.json) {
        process.exitCode = ExitCode.failure;
        return;
      }
      throw new UserError(
        `${failed.length} DAG${failed.length === 1 ? '' : 's'} with import errors: ${failed.map((o) => o.env).join(', ')}.`,
      );
    }
  },
};

export default command;
