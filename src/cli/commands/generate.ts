import type { CommandModule } from 'yargs';
import { environmentNames, readConfigFile, usesLocalStack, DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { localStackIsUp, resolveCliConfig } from '../load-config.js';
import { ExitCode, UserError } from '../../errors.js';
import { DEFAULT_OUT_DIR, generateEnvironment, staleFiles, writeEnvironment } from '../../generator/generate.js';
import pkg from '../../../package.json' with { type: 'json' };

interface GenerateArgs {
  env: string;
  all: boolean;
  check: boolean;
  json: boolean;
  config: string;
  out: string;
}

const command: CommandModule<object, GenerateArgs> = {
  command: 'generate',
  describe: 'Render the DAG, plugins.zip, requirements.txt, resolved config and manifest into <out>/<env>/',
  builder: (yargs) =>
    yargs
      .option('env', { type: 'string', default: 'dev', describe: 'Environment from config.yaml' })
      .option('all', { type: 'boolean', default: false, describe: 'Every environment (local only while the local stack is up)' })
      .option('check', { type: 'boolean', default: false, describe: 'Write nothing; exit 1 when the artifacts on disk are stale' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the manifest(s) as JSON' })
      .option('config', { type: 'string', default: DEFAULT_CONFIG_PATH, describe: 'Config file' })
      .option('out', { type: 'string', default: DEFAULT_OUT_DIR, describe: 'Output root' }),
  handler: async (args) => {
    const file = await readConfigFile({ configPath: args.config });
    let envs = [args.env];
    const notes: string[] = [];
    if (args.all) {
      // The local environment resolves from the running stack; without one it cannot be rendered.
      const stackUp = localStackIsUp();
      envs = environmentNames(file).filter((env) => {
        const skip = !stackUp && usesLocalStack(file, env);
        if (skip) notes.push(`${env}: skipped, the local stack is not up (npm run local -- up)`);
        return !skip;
      });
    }
    // Resolve every environment before writing any, so one bad environment writes nothing.
    const configs = envs.map((env) => resolveCliConfig(file, env));
    const generated = await Promise.all(configs.map((config) => generateEnvironment(config, pkg.version)));

    if (args.check) {
      const stale = (await Promise.all(generated.map(async (g) => (await staleFiles(args.out, g)).map((p) => `${g.config.envName}/${p}`)))).flat();
      if (stale.length > 0) {
        throw new UserError(`${args.out} is stale:\n${stale.map((p) => `  ${p}`).join('\n')}\nRun: npm run generate${args.all ? ' -- --all' : ` -- --env ${args.env}`}`, ExitCode.failure);
      }
      if (!args.json) process.stdout.write(`${args.out} is up to date (${envs.join(', ')}).\n`);
    } else {
      for (const g of generated) await writeEnvironment(args.out, g);
    }
    if (args.json) {
      const manifests = generated.map((g) => g.manifest);
      process.stdout.write(`${JSON.stringify(args.all ? manifests : manifests[0], null, 2)}\n`);
      return;
    }
    if (!args.check) {
      for (const g of generated) {
        process.stdout.write(`${args.out}/${g.config.envName}/ (Airflow ${g.config.airflow.version}, config ${g.manifest.configHash.slice(0, 12)})\n`);
        for (const a of g.manifest.artifacts) {
          process.stdout.write(`  ${a.path.padEnd(40)} ${String(a.size).padStart(8)} B  sha256:${a.sha256.slice(0, 16)}\n`);
        }
      }
    }
    for (const note of notes) process.stderr.write(`${note}\n`);
  },
};

export default command;
