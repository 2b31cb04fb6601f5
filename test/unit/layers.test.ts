/**
 * The layers the tree promises, checked on every module load in every source file of the tree
 * (src/, local-stack/, test/, bench/, scripts/; .ts, .mts, .cts, .js, .mjs, .cjs), read with
 * TypeScript's own parser so that comments and strings never count and no form of load escapes:
 * `import`/`export ... from`, bare `import '...'`, `import x = require()`, `import()` (static and
 * dynamic), `typeof import()`, `require()` and `createRequire(...)(...)`. A load that cannot be
 * read (a computed specifier) fails unless UNCHECKABLE names it with its reason.
 *
 * - Every file is in a layer of the table, and every load lands in one: a folder the table does
 *   not name (templates/, dist/, a new top-level folder) is no way around it.
 * - A layer loads only the layers its row names (and itself). Lower layers never load higher
 *   ones; the deployer and the runtime check know neither each other nor the generator (the
 *   deploy workflow composes them); only the CLI wires in the local stack; nothing shipped loads
 *   test/, bench/ or scripts/; a unit test loads no integration or system helper.
 * - Shipped code loads only Node's built-ins and the packages of package.json's `dependencies`;
 *   the package's own name counts as src/api.ts.
 * - src/util/ holds only what the product uses (its README): each module there has an importer
 *   under src/ outside src/util/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };

const repo = resolve(import.meta.dirname, '../..');

const BASE = ['src/util', 'src/errors.ts'];
const WITH_MWAA = [...BASE, 'src/mwaa'];
const WITH_ARTIFACTS = [...WITH_MWAA, 'src/artifacts'];
const WITH_CONFIG = [...WITH_ARTIFACTS, 'src/config'];
const WITH_STEPS = [...WITH_CONFIG, 'src/generator', 'src/runtime-check', 'src/deployer'];
/** Everything shipped, for the code that tests or measures it. */
const SHIPPED = [...WITH_STEPS, 'src/init', 'src/workflows', 'src/api.ts', 'src/cli', 'local-stack/src', 'package.json'];

interface Layer {
  /** The layers it may load besides itself. */
  may: readonly string[];
  /** Part of the package users install: only `dependencies` for packages. */
  shipped?: true;
}

/** Each layer and what it may load. The longest matching prefix names a file's layer. */
const LAYERS: Record<string, Layer> = {
  'src/errors.ts': { may: [], shipped: true },
  'src/util': { may: [], shipped: true },
  'src/mwaa': { may: BASE, shipped: true },
  'src/artifacts': { may: WITH_MWAA, shipped: true },
  'src/config': { may: WITH_ARTIFACTS, shipped: true },
  'src/generator': { may: WITH_CONFIG, shipped: true },
  // The nvidia-smi query is defined once, beside the DAG library that sends it too.
  'src/runtime-check': { may: [...WITH_CONFIG, 'templates'], shipped: true },
  // Neither the generator nor the runtime check: the deploy workflow composes them.
  'src/deployer': { may: WITH_CONFIG, shipped: true },
  'src/init': { may: [...WITH_MWAA, 'src/config'], shipped: true },
  'src/workflows': { may: WITH_STEPS, shipped: true },
  // The programmatic API: every library, never the CLI or the local stack.
  'src/api.ts': { may: [...WITH_STEPS, 'src/workflows', 'package.json'], shipped: true },
  'src/cli': { may: [...WITH_STEPS, 'src/init', 'src/workflows', 'local-stack/src', 'package.json'], shipped: true },
  // The stand-in nvidia-smi answers the query the DAG library and the check send.
  'local-stack/src': { may: [...WITH_ARTIFACTS, 'templates'], shipped: true },
  'test/support': { may: SHIPPED },
  'test/fuzz': { may: [...SHIPPED, 'test/support'] },
  // The bench's own code has unit tests.
  'test/unit': { may: [...SHIPPED, 'test/support', 'test/fuzz', 'bench'] },
  // The seeded generators of test/fuzz drive the PyYAML cross-checks.
  'test/system': { may: [...SHIPPED, 'test/support', 'test/fuzz'] },
  'test/python': { may: [...SHIPPED, 'test/support'] },
  // The unit suite's recorder of every CLI form sent (sent-forms.ts) feeds the real-parser cross-check.
  'test/integration': { may: [...SHIPPED, 'test/support', 'test/unit'] },
  // The control plane's checker of answers against botocore's MWAA model, for its unit and integration suites.
  'local-stack/test/support': { may: [...SHIPPED, 'test/support'] },
  'local-stack/test/unit': { may: [...SHIPPED, 'test/support', 'local-stack/test/support'] },
  'local-stack/test/system': { may: [...SHIPPED, 'test/support', 'local-stack/test/support'] },
  'local-stack/test/integration': { may: [...SHIPPED, 'test/support', 'local-stack/test/support'] },
  // The benches drive the integration suites' sshd and deploy helpers.
  bench: { may: [...SHIPPED, 'test/support', 'test/integration'] },
  scripts: { may: [...SHIPPED, 'test/support'] },
  // A target only: the CLI and the API read the version from it.
  'package.json': { may: [] },
  // A target only (shipped data: the DAG's templates and library, the nvidia-smi query).
  templates: { may: [] },
};

/**
 * Loads whose specifier is computed, each with why it need not be checked: `file` and the exact
 * text of the call. An entry that matches nothing fails too, so the list never goes stale.
 */
const UNCHECKABLE: ReadonlyArray<{ file: string; call: string; why: string }> = [
  { file: 'src/util/package-import.ts', call: 'import(specifier)', why: 'an ES-only dependency by package name' },
  { file: 'src/cli/main.ts', call: 'import(specifier)', why: "the host's import() handed to the code-cached bundle" },
  { file: 'src/util/code-cache.ts', call: 'createRequire(file)', why: "the bundle's own require, for the bundle's dependencies" },
  {
    file: 'src/generator/prebuilt.ts',
    call: 'createRequire(import.meta.url)(join(dir, PREBUILT_INDEX))',
    why: 'a data file the build wrote',
  },
  { file: 'test/unit/mwaa/aws-errors-table.test.ts', call: 'import(PACKAGES[service])', why: 'an AWS SDK client package by name' },
  { file: 'scripts/build.mjs', call: 'import(prebuildScript)', why: 'the one-off bundle the build just wrote' },
];

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;
const ROOTS = ['src', 'local-stack', 'test', 'bench', 'scripts'];

function layerOf(rel: string): string | undefined {
  return Object.keys(LAYERS)
    .sort((a, b) => b.length - a.length)
    .find((layer) => rel === layer || rel.startsWith(`${layer}/`));
}

/** The file a relative specifier names, by its source name (`./x.js` is `./x.ts` when that exists). */
function target(rel: string, spec: string): string {
  const path = relative(repo, resolve(repo, dirname(rel), spec));
  const source = path.replace(/\.([cm]?)js$/, '.$1ts');
  return source !== path && existsSync(join(repo, source)) ? source : path;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name) && !entry.parentPath.includes('node_modules'))
    .map((entry) => relative(repo, join(entry.parentPath, entry.name)));
}

interface Load {
  /** The specifier, when it is a literal. */
  spec: string | undefined;
  what: string;
  /** The source text of the load (for messages and UNCHECKABLE). */
  call: string;
  line: number;
}

function literal(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

/** Every module load in `text`, as TypeScript parses it. */
function loadsIn(rel: string, text: string): Load[] {
  const kind = /\.[cm]?js$/.test(rel) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, kind);
  const loads: Load[] = [];
  const add = (node: ts.Node, what: string, spec: string | undefined) =>
    loads.push({ spec, what, call: node.getText(source), line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.importClause ? 'import' : 'bare import', literal(node.moduleSpecifier));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, 'export from', literal(node.moduleSpecifier));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, 'import = require', literal(node.moduleReference.expression));
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      add(node, 'type import', ts.isLiteralTypeNode(argument) ? literal(argument.literal) : undefined);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword) add(node, 'dynamic import', literal(node.arguments[0]));
      else if (ts.isIdentifier(callee) && callee.text === 'require') add(node, 'require', literal(node.arguments[0]));
      else if (ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'createRequire') {
        add(node, 'createRequire', literal(node.arguments[0]));
      } else if (
        ts.isIdentifier(callee) &&
        callee.text === 'createRequire' &&
        !(ts.isCallExpression(node.parent) && node.parent.expression === node)
      ) {
        // A require function handed on: what it will load is not in this file.
        add(node, 'createRequire', undefined);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return loads;
}

const OWN_NAME = pkg.name;
const BUILTINS = new Set(builtinModules);

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Where a load lands: a layer (or undefined, outside all), or a package, or a problem. */
function check(rel: string, from: string, load: Load, used: Set<(typeof UNCHECKABLE)[number]>): string | undefined {
  const at = `${rel}:${load.line}`;
  const { spec } = load;
  if (spec === undefined) {
    const entry = UNCHECKABLE.find((u) => u.file === rel && u.call === load.call);
    if (entry) {
      used.add(entry);
      return undefined;
    }
    return `${at}: ${load.what} of a computed specifier cannot be checked: ${load.call}`;
  }
  let to: string | undefined;
  if (spec.startsWith('.') || spec.startsWith('/')) {
    to = layerOf(target(rel, spec));
    if (to === undefined) return `${at}: ${load.what} of ${spec} lands outside every layer of the table`;
  } else if (spec === OWN_NAME || spec.startsWith(`${OWN_NAME}/`)) {
    to = 'src/api.ts';
  } else {
    if (spec.startsWith('node:') || BUILTINS.has(spec)) return undefined;
    const name = packageName(spec);
    const listed = LAYERS[from]!.shipped ? pkg.dependencies : { ...pkg.dependencies, ...pkg.devDependencies };
    if (name in listed) return undefined;
    return `${at}: ${load.what} of package ${name}, which package.json does not list in ${LAYERS[from]!.shipped ? 'dependencies' : 'dependencies or devDependencies'}`;
  }
  if (to === from || LAYERS[from]!.may.includes(to)) return undefined;
  return `${at}: ${load.what} of ${spec} (${from} → ${to})`;
}

/** The loads in `text` (the source of `rel`, relative to the repository) that break the table. */
function violationsIn(rel: string, text: string, used = new Set<(typeof UNCHECKABLE)[number]>()): string[] {
  const from = layerOf(rel);
  if (!from) return [`${rel}: in no layer; add its folder to the layer table`];
  return loadsIn(rel, text).flatMap((load) => check(rel, from, load, used) ?? []);
}

function withoutExtension(path: string): string {
  return path.replace(/\.[cm]?[jt]s$/, '');
}

/** src/util modules no module under src/ outside src/util loads. */
function utilWithoutProductImporter(sources: ReadonlyMap<string, string>): string[] {
  const loaded = new Set<string>();
  for (const [rel, text] of sources) {
    if (!rel.startsWith('src/') || rel.startsWith('src/util/')) continue;
    for (const load of loadsIn(rel, text)) {
      if (load.spec?.startsWith('.')) loaded.add(withoutExtension(target(rel, load.spec)));
    }
  }
  return [...sources.keys()]
    .filter((rel) => rel.startsWith('src/util/') && !loaded.has(withoutExtension(rel)))
    .map(
      (rel) => `${rel}: nothing under src/ outside src/util uses it; a helper only the local stack or tests use lives in local-stack/src`,
    );
}

describe('layers', () => {
  const sources = new Map(ROOTS.flatMap(sourceFiles).map((rel) => [rel, readFileSync(join(repo, rel), 'utf8')]));

  it('every load in the tree follows the layer table', () => {
    const used = new Set<(typeof UNCHECKABLE)[number]>();
    const problems = [...sources].flatMap(([rel, text]) => violationsIn(rel, text, used));
    expect(problems).toEqual([]);
    expect(UNCHECKABLE.filter((entry) => !used.has(entry)).map((e) => `${e.file}: ${e.call}`)).toEqual([]);
    // The scan reaches every kind of file it promises.
    expect([...sources.keys()]).toEqual(expect.arrayContaining(['scripts/build.mjs', 'local-stack/src/up.ts', 'bench/check.ts']));
  });

  it('src/util holds only what the product itself uses', () => {
    expect(utilWithoutProductImporter(sources)).toEqual([]);
  });

  const caught: Array<[string, string, string, RegExp]> = [
    ['an upward import', 'src/config/bad.ts', "import { deploy } from '../deployer/deploy.js';", /src\/config → src\/deployer/],
    [
      'an import of the local stack outside the CLI',
      'src/config/bad.ts',
      "export * from '../../local-stack/src/state.js';",
      /export from .*src\/config → local-stack\/src/,
    ],
    [
      'the deployer importing the runtime check',
      'src/deployer/bad.ts',
      "import type { CheckReport } from '../runtime-check/report.js';",
      /src\/deployer → src\/runtime-check/,
    ],
    [
      'the deployer importing the generator',
      'src/deployer/bad.ts',
      "import { dagBuildTag } from '../generator/artifact.js';",
      /src\/deployer → src\/generator/,
    ],
    [
      'an import into a folder outside the table',
      'src/config/bad.ts',
      "import { x } from '../../examples/x.js';",
      /import of \.\.\/\.\.\/examples\/x\.js lands outside every layer/,
    ],
    [
      'an import of the build output',
      'src/cli/bad.ts',
      "import '../../dist/cli.js';",
      /bare import of \.\.\/\.\.\/dist\/cli\.js lands outside every layer/,
    ],
    [
      'a bare import',
      'src/config/bad.ts',
      "import '../deployer/deploy.js';",
      /1: bare import of \.\.\/deployer\/deploy\.js \(src\/config → src\/deployer\)/,
    ],
    [
      'a dynamic import',
      'src/config/bad.ts',
      "const m = await import('../deployer/deploy.js');",
      /dynamic import .*src\/config → src\/deployer/,
    ],
    [
      'a dynamic import in double quotes over lines',
      'src/config/bad.ts',
      'const m = await import(\n  "../deployer/deploy.js"\n);',
      /bad\.ts:1: dynamic import .*src\/config → src\/deployer/,
    ],
    [
      'a dynamic import of a template literal',
      'src/config/bad.ts',
      'const m = await import(`../deployer/deploy.js`);',
      /dynamic import .*src\/config → src\/deployer/,
    ],
    [
      'a dynamic import of a computed path',
      'src/config/bad.ts',
      "const m = await import('../deployer/' + name);",
      /dynamic import of a computed specifier cannot be checked/,
    ],
    [
      'a require()',
      'src/config/bad.ts',
      "const m = require('../deployer/deploy.js');",
      /require of \.\.\/deployer\/deploy\.js \(src\/config → src\/deployer\)/,
    ],
    [
      'an import = require()',
      'src/config/bad.ts',
      "import m = require('../deployer/deploy.js');",
      /import = require .*src\/config → src\/deployer/,
    ],
    [
      'a require made with createRequire',
      'src/config/bad.ts',
      "const m = createRequire(import.meta.url)('../deployer/deploy.js');",
      /createRequire of .*src\/config → src\/deployer/,
    ],
    [
      'a require function handed on',
      'src/config/bad.ts',
      'run(createRequire(import.meta.url));',
      /createRequire of a computed specifier cannot be checked/,
    ],
    ['a type import', 'src/config/bad.ts', "type D = typeof import('../deployer/deploy.js');", /type import .*src\/config → src\/deployer/],
    [
      'an import from test/ into shipped code',
      'src/mwaa/bad.ts',
      "import { tmp } from '../../test/support/tmp.js';",
      /src\/mwaa → test\/support/,
    ],
    [
      'an import from bench/ into shipped code',
      'local-stack/src/bad.ts',
      "import { x } from '../../bench/support.js';",
      /local-stack\/src → bench/,
    ],
    ['an import from scripts/ into shipped code', 'src/cli/bad.ts', "import '../../scripts/build.mjs';", /src\/cli → scripts/],
    [
      'an integration helper in a unit test',
      'test/unit/bad.test.ts',
      "import { runDeploy } from '../integration/deploy-helpers.js';",
      /test\/unit → test\/integration/,
    ],
    [
      'a suite in the shared test helpers',
      'test/support/bad.ts',
      "import { x } from '../unit/mwaa/sent-forms.js';",
      /test\/support → test\/unit/,
    ],
    ['a bench helper in a script', 'scripts/bad.mjs', "import { x } from '../bench/support.js';", /scripts → bench/],
    [
      'a devDependency in shipped code',
      'src/config/bad.ts',
      "import { describe } from 'vitest';",
      /package vitest, which package.json does not list in dependencies$/,
    ],
    [
      'a package nobody installed',
      'bench/bad.ts',
      "import x from 'left-pad';",
      /package left-pad, which package.json does not list in dependencies or devDependencies/,
    ],
    ["the package's own name in shipped code", 'src/config/bad.ts', "import { plan } from 'mwaa-gpu-cicd';", /src\/config → src\/api\.ts/],
    ['a file in no layer', 'tools/bad.ts', "import x from '../src/api.js';", /^tools\/bad\.ts: in no layer/],
    ['a file in a new folder of src', 'src/newthing/bad.ts', 'export const x = 1;', /^src\/newthing\/bad\.ts: in no layer/],
  ];
  it.each(caught)('catches %s', (_what, file, text, message) => {
    const found = violationsIn(file, text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('lets through what is allowed, and never an import that sits in a comment or a string', () => {
    const text = [
      "import { readFileSync } from 'node:fs';",
      "import { z } from 'zod';",
      "import { plainStyle } from '../util/style.js';",
      "import table from './table.json' with { type: 'json' };",
      "// import { deploy } from '../deployer/deploy.js';",
      'const s = "require(\'../deployer/deploy.js\')";',
      "const t = `await import('../deployer/deploy.js')`;",
      "const m = await import('../mwaa/aws-errors.js');",
    ].join('\n');
    expect(violationsIn('src/config/ok.ts', text)).toEqual([]);
    expect(violationsIn('test/unit/ok.test.ts', "import { describe } from 'vitest';\nimport '../../src/deployer/deploy.js';")).toEqual([]);
  });

  it('finds a src/util module the product does not use', () => {
    const sources = new Map([
      ['src/util/used.ts', 'export const a = 1;'],
      ['src/util/stack-only.ts', 'export const b = 2;'],
      ['src/config/x.ts', "import { a } from '../util/used.js';"],
      ['local-stack/src/y.ts', "import { b } from '../../src/util/stack-only.js';"],
    ]);
    expect(utilWithoutProductImporter(sources)).toEqual([
      expect.stringMatching(/^src\/util\/stack-only\.ts: nothing under src\/ outside src\/util uses it/),
    ]);
  });
});
