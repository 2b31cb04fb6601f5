/**
 * Handlebars set up for code, not HTML: no escaping at all, and a `py` helper that is the only way
 * a value becomes Python source. Templates live in templates/ beside the package.
 *
 * Only the Handlebars runtime loads at start: the build precompiles every template with Handlebars
 * itself (prebuild.ts), and a template whose source still has the bytes the build read renders from
 * that spec. Any other template (edited since the build, or code run from src/) is compiled here
 * with the full Handlebars, loaded on first need.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type HandlebarsCompiler from 'handlebars';
import handlebarsRuntime from 'handlebars/runtime.js';
import { packageRoot } from '../util/package-root.js';
import { bundledPrebuilt, freshTemplateSpec } from './prebuilt.js';
import { pythonLiteral } from './python-literal.js';

export function templatePath(relative: string): string {
  return join(packageRoot(), 'templates', relative);
}

export function readTemplateFile(relative: string): Buffer {
  return readFileSync(templatePath(relative));
}

/** Strict lookups: a misspelt field fails loudly instead of rendering empty. */
export const TEMPLATE_OPTIONS = { noEscape: true, strict: true } as const;

/** A copy of TEMPLATE_OPTIONS for one compile (Handlebars may add fields to the object it is given). */
export function templateOptions(): CompileOptions {
  return { ...TEMPLATE_OPTIONS };
}

type CompileOptions = NonNullable<Parameters<typeof HandlebarsCompiler.compile>[1]>;
type Environment = Pick<typeof HandlebarsCompiler, 'registerHelper' | 'SafeString'>;
/** The runtime is Handlebars without its compiler; its package ships no types of its own. */
type Runtime = Environment & Pick<typeof HandlebarsCompiler, 'template' | 'VERSION'> & { create(): Runtime };

function withPyHelper<T extends Environment>(environment: T): T {
  environment.registerHelper('py', (value: unknown) => new environment.SafeString(pythonLiteral(value)));
  return environment;
}

const runtime = withPyHelper((handlebarsRuntime as unknown as Runtime).create());
let compiler: typeof HandlebarsCompiler | undefined;

/**
 * The full Handlebars, with the `py` helper. Required from the installed dependency, not bundled,
 * so that its compiler costs nothing to a start that does not compile.
 */
export function handlebarsCompiler(): typeof HandlebarsCompiler {
  compiler ??= withPyHelper((createRequire(import.meta.url)('handlebars') as typeof HandlebarsCompiler).create());
  return compiler;
}

/** A renderer for templates/<relative>: the build's precompiled spec when it is current, else compiled now. */
export function compileTemplate(relative: string): (context: object) => string {
  const source = readTemplateFile(relative);
  const prebuilt = bundledPrebuilt();
  const spec = prebuilt && freshTemplateSpec(prebuilt, relative, source, TEMPLATE_OPTIONS, runtime.VERSION);
  const template = spec
    ? runtime.template(spec as Parameters<typeof runtime.template>[0])
    : handlebarsCompiler().compile(source.toString('utf8'), templateOptions());
  return (context) => template(context);
}
