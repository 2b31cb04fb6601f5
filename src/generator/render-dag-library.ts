/**
 * The DAG's task logic as MWAA gets it: templates/dag/gpu_cicd_lib/ (a plain Python package, linted
 * and tested as it is) renamed `gpu_cicd_lib_<hash12>` and zipped into one file of the DAG folder,
 * `gpu_cicd_lib_<hash12>.zip` (src/artifacts/kinds.ts says why one file). The name is the hash of
 * what the package holds, so the DAG file that imports it names exactly the library it was
 * generated with, and a changed library is a new object: a parse never pairs a DAG with another
 * version, and a library-only upgrade is a DAG-folder sync (seconds), never an environment update.
 */
import { readdirSync } from 'node:fs';
import { DAG_LIBRARY_PREFIX, dagLibraryFileName } from '../artifacts/kinds.js';
import { compareCodeUnits } from '../util/order.js';
import { sha256Hex } from '../util/stable-json.js';
import { shortHash } from './artifact.js';
import { readTemplateFile, templatePath } from './templates.js';
import { zipOf } from './prebuilt.js';
import type { OutputFile } from './writer.js';
import type { ZipEntry } from './zip.js';

/** The package's source, relative to templates/. */
export const DAG_LIBRARY_SOURCE = 'dag/gpu_cicd_lib';

interface Module {
  name: string;
  bytes: Buffer;
}

export interface DagLibrary {
  /** The package the DAG imports: gpu_cicd_lib_<first 12 hex digits of sha256>. */
  package: string;
  /** SHA-256 over the package's file names and bytes (see libraryHash). */
  sha256: string;
  /** The package's modules, sorted by name. */
  modules: Module[];
}

/** The package's modules: the .py files directly in templates/dag/gpu_cicd_lib/ (no caches), and the
 * .json data they read through the package's loader (the nvidia-smi query the check shares). */
export function libraryModules(): Module[] {
  return readdirSync(templatePath(DAG_LIBRARY_SOURCE), { withFileTypes: true })
    .filter((entry) => entry.isFile() && (entry.name.endsWith('.py') || entry.name.endsWith('.json')))
    .map((entry) => entry.name)
    .sort(compareCodeUnits)
    .map((name) => ({ name, bytes: readTemplateFile(`${DAG_LIBRARY_SOURCE}/${name}`) }));
}

/** One line per file, `<name> <sha256>`, sorted: a name change or a byte change gives a new hash. */
export function libraryHash(files: readonly Module[]): string {
  const lines = [...files].sort((a, b) => compareCodeUnits(a.name, b.name)).map((f) => `${f.name} ${sha256Hex(f.bytes)}\n`);
  return sha256Hex(lines.join(''));
}

/** The library the templates give (the same on both Airflow lines: the adapters choose at run time). */
export function dagLibrary(modules: Module[] = libraryModules()): DagLibrary {
  const sha256 = libraryHash(modules);
  return { package: `${DAG_LIBRARY_PREFIX}${shortHash(sha256)}`, sha256, modules };
}

/** What the library's zip holds: <package>/<module>, in module order. */
export function dagLibraryZipEntries(library: DagLibrary): ZipEntry[] {
  return library.modules.map((m) => ({ name: `${library.package}/${m.name}`, bytes: m.bytes }));
}

/** The library's one file in the DAG folder: dags/<package>.zip, holding <package>/<module>.py. */
export async function renderDagLibrary(library: DagLibrary): Promise<OutputFile> {
  return { path: `dags/${dagLibraryFileName(library.package)}`, bytes: await zipOf('dagLibrary', dagLibraryZipEntries(library)) };
}
