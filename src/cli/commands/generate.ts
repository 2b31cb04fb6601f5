import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { readConfigFile, requireEnvironment } from '../../config/load.js';
import type { ResolvedConfig } from '../../config/resolved.js';
import { ExitCode, UserError } from '../../errors.js';
import { DEFAULT_OUT_DIR, environmentDir, generateEnvironment, staleFiles, writeEnvironment } from '../../generator/generate.js';
import { dagBuildTag } from '../../generator/artifact.js';
import { COMMANDS, SHARED_OPTIONS } from '../command-table.js';
import { cliContext, commandLine } from '../context.js';
import { givenOptions, refuseEmpty, refuseTogether } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { resolveCliFile } from '../load-config.js';
import type { PlainOption } from '../quick-parse.js';
import pkg from '../../../package.json' with { type: 'json' };
import { writeJson } from '../json-output.js';

interface GenerateArgs {
  env: string;
  all: boolean;
  check: boolean;
  json: boolean;
  config: string;
  out: string;
}

/** The options, as yargs and the quick parser (quick-parse.ts) both read them. */
export const GENERATE_OPTIONS = {
  env: { ...SHARED_OPTIONS.env, default: 'dev' },
  all: { type: 'boolean', default: false, describe: 'Every environment (local only while the local stack is up)' },
  check: {
    type: 'boolean',
    default: false,
    describe:
      'For CI: write nothing; validate and render every environment (or --env) in memory; exit 1 on any problem, or when ' +
      '<out>/<env>/ exists and differs from what the config renders',
  },
  json: { ...SHARED_OPTIONS.json, describe: 'Print {ok, command, environments: [manifest, ...]} as JSON' },
  config: SHARED_OPTIONS.config,
  out: { ...SHARED_OPTIONS.out, default: DEFAULT_OUT_DIR },
} as const satisfies Record<string, PlainOption>;

const command: CommandModule<object, GenerateArgs> = {
  command: 'generate',
  describe: COMMANDS.generate,
  builder: (yargs) =>
    yargs
      .options(GENERATE_OPTIONS)
      .example('$0 generate --env prod', 'Render dist-artifacts/prod/')
      .example('$0 generate --all --json', 'Every environment, manifests as JSON')
      .example('$0 generate --check', 'In CI: fail when any environment is invalid or its committed artifacts are stale')
      .epilog(
        'The whole config file is validated, like terraform validate: a problem in any environment fails, whichever one is ' +
          `rendered.\n\n${EXIT_CODES_EPILOG}`,
      )
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    const given = givenOptions(context.argv);
    refuseEmpty(args, context.argv, ['env', 'config', 'out']);
    refuseTogether(given, [['env', 'all', '--all already means every environment; drop one of them']]);

    const file = await readConfigFile({ configPath: args.config });
    // Every environment: --all, and --check unless told which one.
    const every = args.all || (args.check && !given.has('env'));
    if (!every) requireEnvironment(file, args.env);
    const { configs, skipped } = resolveCliFile(file);
    const notes: string[] = [];
    let chosen: ResolvedConfig[];
    if (every) {
      chosen = [...configs.values()];
      for (const { env, reason } of skipped) notes.push(`${env}: not rendered: ${reason.message}`);
    } else {
      const config = configs.get(args.env);
      if (!config)
        throw skipped.find((s) => s.env === args.env)?.reason ?? new UserError(`Environment "${args.env}" could not be resolved.`);
      chosen = [config];
    }
    const generated = await Promise.all(chosen.map((config) => generateEnvironment(config, pkg.version)));

    if (args.check) {
      const stale: string[] = [];
      for (const g of generated) {
        const env = g.config.envName;
        if (!existsSync(environmentDir(args.out, env))) {
          notes.push(`${env}: valid and rendered; ${environmentDir(args.out, env)}/ does not exist here, so there is nothing to compare`);
          continue;
        }
        stale.push(...(await staleFiles(args.out, g)).map((p) => `${env}/${p}`));
      }
      if (stale.length > 0) {
        const at = context.argv.indexOf('generate');
        const rerun = commandLine(
          'generate',
          context.argv.filter((a, i) => i !== at && a !== '--check' && !a.startsWith('--check=')),
        );
        throw new UserError(`${args.out} is stale:\n${stale.map((p) => `  ${p}`).join('\n')}\nRun: ${rerun}`, ExitCode.failure, {
          details: { stale },
        });
      }
    } else {
      for (const g of generated) await writeEnvironment(args.out, g);
    }

    if (args.json) {
      writeJson(true, { environments: generated.map((g) => g.manifest) });
    } else if (args.check) {
      const compared = generated.filter((g) => existsSync(environmentDir(args.out, g.config.envName))).map((g) => g.config.envName);
      process.stdout.write(
        `${generated.length} environment${generated.length === 1 ? '' : 's'} valid and rendered (${generated.map((g) => g.config.envName).join(', ')})` +
          `${compared.length > 0 ? `; ${args.out} up to date for ${compared.join(', ')}` : ''}.\n`,
      );
    } else {
      const { out } = context;
      for (const g of generated) {
        process.stdout.write(
          `${out.bold(`${args.out}/${g.config.envName}/`)} (Airflow ${g.config.airflow.version}, config ${g.manifest.configHash.slice(0, 12)}, DAG ${dagBuildTag(g.manifest)})\n`,
        );
        const width = Math.max(...g.manifest.artifacts.map((a) => a.path.length));
        for (const a of g.manifest.artifacts) {
          process.stdout.write(
            `  ${a.path.padEnd(width)} ${String(a.size).padStart(8)} B  ${out.dim(`sha256:${a.sha256.slice(0, 16)}`)}\n`,
          );
        }
      }
    }
    if (!context.quiet) for (const note of notes) process.stderr.write(`${note}\n`);
  },
};

export default command;
