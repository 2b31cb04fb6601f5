/**
 * Handlebars set up for code, not HTML: no escaping at all, and a `py` helper that is the only way
 * a value becomes Python source. Templates live in templates/ beside the package.
 */
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { pythonLiteral } from './python-literal.js';

export function templatePath(relative: string): string {
  return join(packageRoot(), 'templates', relative);
}

export function readTemplateFile(relative: string): Buffer {
  return readFileSync(templatePath(relative));
}

const handlebars = Handlebars.create();
handlebars.registerHelper('py', (value: unknown) => new Handlebars.SafeString(pythonLiteral(value)));

/** Compiles a template with strict lookups: a misspelt field fails loudly instead of rendering empty. */
export function compileTemplate(relative: string): (context: object) => string {
  const source = readTemplateFile(relative).toString('utf8');
  const template = handlebars.compile(source, { noEscape: true, strict: true });
  return (context) => template(context);
}
