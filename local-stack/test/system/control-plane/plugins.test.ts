/**
 * PluginsInstaller against a real Python (the one on PATH: extraction and the import check need
 * nothing beyond the standard library).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PluginsInstaller, PluginsRejectedError } from '../../../src/control-plane/plugins.js';

const PYTHON = process.env.PYTHON ?? 'python3';
let home: string;
let installer: PluginsInstaller;

beforeAll(() => {
  try {
    execFileSync(PYTHON, ['-c', 'import zipfile']);
  } catch {
    throw new Error(`These tests need a Python 3 interpreter as "${PYTHON}" (set PYTHON=/path/to/python3).`);
  }
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cp-plugins-'));
  installer = new PluginsInstaller({ airflowHome: home, python: PYTHON, env: () => ({ ...process.env }) });
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** Builds a zip with Python's zipfile from {name: content}. */
function zip(files: Record<string, string>): Buffer {
  const out = join(home, `in-${Math.random().toString(36).slice(2)}.zip`);
  execFileSync(PYTHON, [
    '-c',
    'import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n    for k, v in json.loads(sys.argv[2]).items(): z.writestr(k, v)',
    out,
    JSON.stringify(files),
  ]);
  const bytes = readFileSync(out);
  rmSync(out);
  return bytes;
}

describe('PluginsInstaller', () => {
  it('stages, checks imports and swaps a plain plugins/ directory for a release symlink', async () => {
    mkdirSync(join(home, 'plugins'));
    writeFileSync(join(home, 'plugins', 'old_mod.py'), 'X = 0\n');
    const staged = await installer.stage(
      zip({ 'gpu_ssh_utils.py': 'A = 1\n', 'pkg/__init__.py': 'from . import sub\n', 'pkg/sub.py': 'B = 2\n' }),
    );
    expect(staged.modules).toEqual(['gpu_ssh_utils', 'pkg']);
    // Nothing live changed yet.
    expect(lstatSync(join(home, 'plugins')).isDirectory()).toBe(true);
    await installer.activate(staged);
    expect(lstatSync(join(home, 'plugins')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(home, 'plugins'))).toBe(join('plugins-releases', staged.releaseId));
    expect(readdirSync(join(home, 'plugins')).sort()).toEqual(['gpu_ssh_utils.py', 'pkg']);
    expect(await installer.liveRelease()).toBe(staged.releaseId);
    // Old releases are pruned once the new one is live.
    expect(readdirSync(join(home, 'plugins-releases'))).toEqual([staged.releaseId]);
  });

  it('rejects a zip whose modules do not import and leaves the live release alone', async () => {
    const good = await installer.stage(zip({ 'good_mod.py': 'V = 1\n' }));
    await installer.activate(good);
    const error = await installer
      .stage(zip({ 'good_mod.py': 'V = 2\n', 'broken.py': 'import module_that_does_not_exist\n' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginsRejectedError);
    expect((error as PluginsRejectedError).errorCode).toBe('PLUGINS_IMPORT_FAILED');
    expect((error as Error).message).toContain("broken: ModuleNotFoundError: No module named 'module_that_does_not_exist'");
    expect(readFileSync(join(home, 'plugins', 'good_mod.py'), 'utf8')).toBe('V = 1\n');
    expect(readdirSync(join(home, 'plugins-releases'))).toEqual([good.releaseId]);
  });

  it('reports a syntax error in a module as an import failure', async () => {
    const error = await installer.stage(zip({ 'bad.py': 'def (:\n' })).catch((e: unknown) => e);
    expect((error as PluginsRejectedError).errorCode).toBe('PLUGINS_IMPORT_FAILED');
    expect((error as Error).message).toContain('SyntaxError');
  });

  it('rejects bytes that are not a zip', async () => {
    const error = await installer.stage(Buffer.from('not a zip')).catch((e: unknown) => e);
    expect((error as PluginsRejectedError).errorCode).toBe('PLUGINS_INVALID_ZIP');
    expect(readdirSync(join(home, 'plugins-releases'))).toEqual([]);
  });

  it('keeps entries with .. or absolute paths inside the release', async () => {
    const staged = await installer.stage(zip({ '../escape.py': 'E = 1\n', '/abs_mod.py': 'A = 1\n' }));
    expect(existsSync(join(home, 'escape.py'))).toBe(false);
    expect(existsSync(join(home, 'plugins-releases', 'escape.py'))).toBe(false);
    expect(readdirSync(staged.dir).sort()).toEqual(['abs_mod.py', 'escape.py']);
  });
});
