// Bundles the CLI, the programmatic API and the local control plane with esbuild. Bundling
// matters for start-up time: `generate` should load only what it needs, so each command is a
// separate chunk loaded on demand. With --types (as `npm pack` and `npm install` run it), also the
// API's declarations into dist/types/ with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const finalDir = join(root, 'dist');
// Build beside dist/ and swap it in, so that a CLI running during a rebuild never sees a half
// written or missing dist/.
const outdir = join(root, `.dist-build-${process.pid}`);
rmSync(outdir, { recursive: true, force: true });

// zod's namespace re-exports every one of its ~50 message locales (over 350 kB) though only the
// English one is used: bundle that one alone, so every command starts faster.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[/\\]zod[/\\]v4[/\\](classic|core)$/.test(args.resolveDir)
        ? { path: join(args.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

// Handlebars' compiler loads the source-map library only to build its output through SourceNode,
// and falls back to plain strings without it (as in browsers); we never ask for source maps.
const handlebarsWithoutSourceMaps = {
  name: 'handlebars-without-source-maps',
  setup(b) {
    b.onResolve({ filter: /^source-map$/ }, (args) =>
      /[/\\]handlebars[/\\]/.test(args.importer) ? { path: 'source-map', namespace: 'no-source-map' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-source-map' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    cli: 'src/cli/main.ts',
    api: 'src/api.ts',
    'control-plane': 'local-stack/src/control-plane/main.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies bundled into ESM need a real `require` for their own dynamic requires.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // ssh2 loads optional native add-ons (cpu-features, sshcrypto.node) that cannot be bundled.
  external: ['ssh2', 'cpu-features'],
  logLevel: 'warning',
  metafile: true,
  plugins: [zodEnglishOnly, handlebarsWithoutSourceMaps],
});

/**
 * One CommonJS bundle (dist/api.cjs, dist/generate.cjs), with import.meta.url standing for the
 * bundle's own file.
 */
const commonJsBundle = (options) =>
  build({
    absWorkingDir: root,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
    metafile: true,
    plugins: [zodEnglishOnly, handlebarsWithoutSourceMaps],
    ...options,
  });

// The programmatic API once more as one CommonJS file (dist/api.cjs), the package's `require`
// condition: a CommonJS project can then `require('mwaa-gpu-cicd')` on every Node the package
// supports (Node 20 cannot require an ES module). The AWS SDK stays outside (its packages ship
// CommonJS, and they are the package's dependencies): a quarter of the size, as fast to load.
const cjsApi = await commonJsBundle({
  entryPoints: { api: 'src/api.ts' },
  outExtension: { '.js': '.cjs' },
  outdir,
  external: ['ssh2', 'cpu-features', '@aws-sdk/*'],
});
Object.assign(result.metafile.outputs, cjsApi.metafile.outputs);

// Templates precompiled by Handlebars and plugins.zip written by archiver, into dist/prebuilt/, so
// that `generate` loads neither the Handlebars compiler nor archiver while templates/ is unchanged
// (src/generator/prebuilt.ts). The step runs from a one-off bundle beside the output.
const prebuildScript = join(outdir, 'prebuild.mjs');
await build({
  absWorkingDir: root,
  entryPoints: ['src/generator/prebuild.ts'],
  outfile: prebuildScript,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
await (await import(prebuildScript)).prebuild(join(outdir, 'prebuilt'));
rmSync(prebuildScript);

// A plain `generate` line runs from one CommonJS bundle (src/cli/plain-generate.ts) with V8's code
// cache beside it (src/util/code-cache.ts): Node 20 caches no compiled code for ES modules. The
// cache is made by a generate run of the shipped config, so it holds every function such a run
// compiles; a Node with another V8 rejects it and compiles from source.
const plainGenerate = join(outdir, 'generate.cjs');
const plainGenerateResult = await commonJsBundle({ entryPoints: ['src/cli/plain-generate.ts'], outfile: plainGenerate });
Object.assign(result.metafile.outputs, plainGenerateResult.metafile.outputs);
const trainer = join(outdir, 'code-cache.mjs');
await build({
  absWorkingDir: root,
  entryPoints: ['src/util/code-cache.ts'],
  outfile: trainer,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
const trainingOut = join(outdir, 'code-cache-run');
execFileSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `const { loadWithCodeCache, writeCodeCache } = await import(${JSON.stringify(trainer)});
     const bundle = loadWithCodeCache(${JSON.stringify(plainGenerate)});
     const argv = ['generate', '--env', 'dev', '--quiet', '--out', ${JSON.stringify(trainingOut)}];
     if (!(await bundle.exports.runPlainGenerate(argv, (specifier) => import(specifier)))) process.exit(1);
     writeCodeCache(${JSON.stringify(plainGenerate)}, bundle);`,
  ],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MWAA_LOCAL_HOME: join(trainingOut, 'no-stack') } },
);
rmSync(trainer);
rmSync(trainingOut, { recursive: true, force: true });

// The module graph, for the test that keeps the AWS SDK and ssh2 off the path of `generate`.
writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile).replaceAll(`${outdir.slice(root.length + 1)}/`, 'dist/'));
if (process.argv.includes('--types')) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.types.json'), '--outDir', join(outdir, 'types')], { stdio: 'inherit' });
}
const retired = join(root, `.dist-old-${process.pid}`);
try {
  renameSync(finalDir, retired);
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
renameSync(outdir, finalDir);
rmSync(retired, { recursive: true, force: true });
