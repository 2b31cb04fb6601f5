/**
 * The installed package's root (where package.json, templates/ and config/config.schema.json
 * are), found by walking up from this module: it works from src/ (tsx), from the bundle in
 * dist/chunks/, and from node_modules/mwaa-gpu-cicd/ in a project that installed the package.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (let i = 0; i < 4; i += 1) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('cannot find the package root (package.json) above this module');
}

/**
 * The build's output directory (dist/) when this code runs from it, as the bundled CLI and API do;
 * undefined when it runs from src/ (tests, tsx), which must not pick up a possibly older build.
 */
export function builtDir(from: string = fileURLToPath(import.meta.url)): string | undefined {
  const dist = join(packageRoot(from), 'dist');
  return from.startsWith(dist + sep) ? dist : undefined;
}
