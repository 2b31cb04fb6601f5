import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

interface Metafile {
  outputs: Record<
    string,
    { imports: Array<{ path: string; kind: string; external?: boolean }>; inputs: Record<string, unknown>; entryPoint?: string }
  >;
}

/** Every input module reachable from an output file through static imports (what loads at start). */
function staticClosure(meta: Metafile, start: string): Set<string> {
  const seen = new Set<string>();
  const inputs = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    const node = meta.outputs[output];
    if (!node) {
      inputs.add(output); // an external module
      return;
    }
    for (const input of Object.keys(node.inputs)) inputs.add(input);
    for (const imported of node.imports) if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(start);
  return inputs;
}

// dist/ is built by the project's global setup (test/support/build-once.ts).
describe('the bundled CLI', () => {
  let meta: Metafile;
  beforeAll(() => {
    meta = JSON.parse(readFileSync('dist/meta.json', 'utf8')) as Metafile;
  });

  it('loads neither the AWS SDK nor ssh2 on the path of generate', () => {
    const generateChunk = Object.entries(meta.outputs).find(([, o]) => Object.keys(o.inputs).includes('src/cli/commands/generate.ts'))?.[0];
    expect(generateChunk).toBeDefined();
    const loaded = [...staticClosure(meta, 'dist/cli.js'), ...staticClosure(meta, generateChunk!)];
    expect(loaded.some((p) => p.includes('src/generator/generate.ts'))).toBe(true);
    expect(loaded.filter((p) => /@aws-sdk|@smithy|ssh2/.test(p))).toEqual([]);
    // Templates render from the build's precompiled specs and plugins.zip comes from the build:
    // only the Handlebars runtime loads, archiver only when the plugin modules changed.
    expect(loaded.some((p) => p.includes('node_modules/handlebars/dist/cjs/handlebars.runtime.js'))).toBe(true);
    // A plain generate line runs from its own code-cached bundle (src/cli/plain-generate.ts).
    const plain = Object.keys(meta.outputs['dist/generate.cjs']?.inputs ?? {});
    expect(plain.some((p) => p.includes('src/generator/generate.ts'))).toBe(true);
    loaded.push(...plain);
    expect(
      loaded.filter((p) => /node_modules\/handlebars\/.*compiler|node_modules\/(archiver|zip-stream|readable-stream)\//.test(p)),
    ).toEqual([]);
  });

  it('loads neither on the path of init and parse, nor when a program imports the API', () => {
    for (const command of ['init', 'parse']) {
      const chunk = Object.entries(meta.outputs).find(([, o]) => Object.keys(o.inputs).includes(`src/cli/commands/${command}.ts`))?.[0];
      expect(chunk, command).toBeDefined();
      expect(
        [...staticClosure(meta, chunk!)].filter((p) => /@aws-sdk|@smithy|ssh2/.test(p)),
        command,
      ).toEqual([]);
    }
    // deploy --help lists options without the SDK: the workflow loads when a deploy runs.
    const deploy = Object.entries(meta.outputs).find(([, o]) => Object.keys(o.inputs).includes('src/cli/commands/deploy.ts'))?.[0];
    expect([...staticClosure(meta, deploy!)].filter((p) => /@aws-sdk|@smithy|ssh2/.test(p))).toEqual([]);
    // A plain generate line is parsed without yargs (src/cli/quick-parse.ts).
    expect([...staticClosure(meta, 'dist/cli.js')].filter((p) => /node_modules\/yargs/.test(p))).toEqual([]);
    const api = [...staticClosure(meta, 'dist/api.js')];
    expect(api.some((p) => p.includes('src/generator/generate.ts'))).toBe(true);
    expect(api.filter((p) => /@aws-sdk|@smithy|ssh2/.test(p))).toEqual([]);
  });
});
