/**
 * Renders DAG variants for the Python DAG tests, through the real config loader (so every variant
 * is validated like a user's config) and the real renderDag.
 *
 * stdin: {"outDir": "...", "variants": [{"name": "main", "env": "local"} | {"name": "x", "overrides": {...}}]}
 * A variant with `env` loads that environment of config/config.yaml (the local stack fills it in);
 * one with `overrides` deep-merges them over a config built from the running stack's state.json.
 * Each variant's folder (its own bundle on Airflow 3) and outDir itself (the DAG folder, which
 * Airflow 2 puts on sys.path) get the DAG library folder, as generate writes it.
 * stdout: {"<name>": {"path": "<outDir>/<name>/<name>.py", "dagId": "..."}, "_library": "gpu_cicd_lib_<hash12>"}
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deepMerge, loadConfig } from '../../../src/config/load.js';
import { renderDag } from '../../../src/generator/render-dag.js';
import { dagLibrary, renderDagLibrary } from '../../../src/generator/render-dag-library.js';
import type { OutputFile } from '../../../src/generator/writer.js';
import { readStateIfPresent, stackRoot } from '../../../local-stack/src/state.js';
import { runningStackOverlay } from '../../../local-stack/src/config-overlay.js';

interface Variant {
  name: string;
  env?: string;
  overrides?: Record<string, unknown>;
}

const repo = resolve(new URL('../../..', import.meta.url).pathname);
const spec = JSON.parse(readFileSync(0, 'utf8')) as { outDir: string; variants: Variant[] };
const state = readStateIfPresent(stackRoot(process.env, repo));
if (!state) throw new Error(`the local stack is not up (no state.json under ${stackRoot(process.env, repo)})`);

const base = {
  localStack: false,
  airflow: { version: state.airflowVersion },
  // The bucket plays no part in the DAG.
  mwaa: { environmentName: state.environmentName, region: state.region, bucket: 'airflow-dagtest' },
  aws: { endpoints: { s3: state.endpoints.s3, secretsManager: state.endpoints.secretsManager, mwaa: state.endpoints.mwaa } },
  dag: { retries: 0 },
  ssh: { user: state.ssh.user, connectRetries: 1, connectTimeoutSeconds: 5 },
  secrets: { sshKeyArn: state.secretArn },
  servers: [
    {
      name: 'local-gpu',
      host: state.ssh.host,
      port: state.ssh.port,
      workspacePath: state.workspace,
      hostPublicKey: state.ssh.hostPublicKey,
    },
  ],
  git: { repoUrl: state.git.remoteUrl, branch: state.git.branch },
};

const meta = { toolVersion: '0.0.0-test', configHash: '0'.repeat(64) };
const work = mkdtempSync(join(tmpdir(), 'dag-variants-'));
const out: Record<string, { path: string; dagId: string } | string> = {};
/** The library zip as generate writes it, in `dagsFolder`. */
function writeLibrary(dagsFolder: string, file: OutputFile): void {
  writeFileSync(join(dagsFolder, ...file.path.split('/').slice(1)), file.bytes);
}
const library = dagLibrary();
const libraryFile = await renderDagLibrary(library);
try {
  mkdirSync(spec.outDir, { recursive: true });
  for (const variant of spec.variants) {
    let config;
    if (variant.env) {
      config = await loadConfig({ env: variant.env, cwd: repo, localStackOverlay: () => runningStackOverlay(process.env, repo) });
    } else {
      const configPath = join(work, `${variant.name}.yaml`);
      const environment = deepMerge(base, variant.overrides ?? {});
      writeFileSync(configPath, JSON.stringify({ environments: { t: environment } }));
      config = await loadConfig({ env: 't', configPath, cwd: repo });
    }
    mkdirSync(join(spec.outDir, variant.name), { recursive: true });
    const path = join(spec.outDir, variant.name, `${variant.name}.py`);
    writeFileSync(path, renderDag(config, meta, library));
    writeLibrary(join(spec.outDir, variant.name), libraryFile);
    out[variant.name] = { path, dagId: config.dag.id };
    out._library = library.package;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out));
