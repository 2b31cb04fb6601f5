/**
 * The installed package's root (where package.json, templates/ and config/config.schema.json
 * are), found by walking up from this module: it works from src/ (tsx), from the bundle in
 * dist/chunks/, and from node_modules/mwaa-gpu-cicd/ in a project that installed the package.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
