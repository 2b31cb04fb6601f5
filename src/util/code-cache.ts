/**
 * Runs a CommonJS bundle with V8's code cache: the compiled code of every function a typical run
 * used, written beside the bundle by the build. Node 20 keeps no compile cache for ES modules
 * (module.enableCompileCache came with 22.1), and parsing and compiling the bundle on every start
 * costs more than the work a short command does.
 *
 * The cache file starts with the SHA-256 of the source it was made from; V8 checks the rest (its
 * own version, flags and the source length) and rejects a cache made by another Node. Either way a
 * cache that does not fit is ignored and the bundle compiles from source: slower, never different.
 * The bundle cannot use import() (a vm.Script has no module loader in Node 20): its host passes
 * one in (package-import.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import vm from 'node:vm';

const HASH_BYTES = 32;

export function codeCachePath(file: string): string {
  return `${file}.v8cache`;
}

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** Whether the code came from the cache (false: compiled from source). */
  fromCache: boolean;
  script: vm.Script;
  sourceHash: Buffer;
}

/** Runs `file` (a CommonJS module) as `require` would, with its code cache when that fits. */
export function loadWithCodeCache(path: string): LoadedBundle {
  const file = resolve(path);
  const source = readFileSync(file, 'utf8');
  const sourceHash = createHash('sha256').update(source).digest();
  let cachedData: Buffer | undefined;
  try {
    const cache = readFileSync(codeCachePath(file));
    if (cache.subarray(0, HASH_BYTES).equals(sourceHash)) cachedData = cache.subarray(HASH_BYTES);
  } catch {
    // No cache: compile from source.
  }
  // The wrapper Node itself puts around a CommonJS module.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return { exports: module.exports, fromCache: cachedData !== undefined && !script.cachedDataRejected, script, sourceHash };
}

/**
 * Writes the code cache of a bundle loaded with loadWithCodeCache, after it ran: V8 then includes
 * every function the run compiled, not only the top level.
 */
export function writeCodeCache(file: string, loaded: LoadedBundle): void {
  const target = codeCachePath(file);
  const partial = `${target}.${process.pid}`;
  writeFileSync(partial, Buffer.concat([loaded.sourceHash, loaded.script.createCachedData()]));
  renameSync(partial, target);
}
